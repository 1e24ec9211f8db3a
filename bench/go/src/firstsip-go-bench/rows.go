package main

import (
	"strconv"

	"github.com/jackc/pgtype"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "firstsip/gen/firstsipv1"
)

// Rows become protos here, as in server/storage/rows.cc. Timestamps arrive as epoch
// microseconds (int8, NULL when unset), as the C++ statements select them.

// userRow holds the userColumns of one row.
type userRow struct {
	id, revision                                       int64
	email, name, timezone, briefingTime, role          string
	lastLogin, lastBriefing, created, updated, deleted pgtype.Int8
}

func (r *userRow) dest() []interface{} {
	return []interface{}{&r.id, &r.email, &r.name, &r.timezone, &r.briefingTime, &r.role, &r.revision,
		&r.lastLogin, &r.lastBriefing, &r.created, &r.updated, &r.deleted}
}

func (r *userRow) proto() (*pb.User, error) {
	var role pb.Role
	switch r.role {
	case "user":
		role = pb.Role_ROLE_USER
	case "admin":
		role = pb.Role_ROLE_ADMIN
	default:
		return nil, errUnknownStored
	}
	return &pb.User{
		Id:                    r.id,
		Email:                 r.email,
		Name:                  r.name,
		Timezone:              r.timezone,
		PreferredBriefingTime: r.briefingTime,
		Role:                  role,
		LastLoginAt:           timestamp(r.lastLogin),
		LastBriefingAt:        timestamp(r.lastBriefing),
		CreateTime:            timestamp(r.created),
		UpdateTime:            timestamp(r.updated),
		DeleteTime:            timestamp(r.deleted),
		Etag:                  "r" + strconv.FormatInt(r.revision, 10),
	}, nil
}

// identityRow holds the identityColumns of one row.
type identityRow struct {
	id, userID               int64
	provider, providerUserID string
	expiry, created, updated pgtype.Int8
	hasAccess, hasRefresh    bool
}

func (r *identityRow) dest() []interface{} {
	return []interface{}{&r.id, &r.userID, &r.provider, &r.providerUserID, &r.expiry,
		&r.hasAccess, &r.hasRefresh, &r.created, &r.updated}
}

func (r *identityRow) proto() *pb.AuthIdentity {
	return &pb.AuthIdentity{
		Id:              r.id,
		UserId:          r.userID,
		Provider:        r.provider,
		ProviderUserId:  r.providerUserID,
		TokenExpiry:     timestamp(r.expiry),
		HasAccessToken:  r.hasAccess,
		HasRefreshToken: r.hasRefresh,
		CreateTime:      timestamp(r.created),
		UpdateTime:      timestamp(r.updated),
	}
}

// briefingRow holds the briefingColumns of one row; content is the jsonb text (nil for NULL).
type briefingRow struct {
	id, userID                      int64
	status, errorMessage            string
	content                         []byte
	read, created, updated, deleted pgtype.Int8
}

func (r *briefingRow) dest() []interface{} {
	return []interface{}{&r.id, &r.userID, &r.status, &r.content, &r.errorMessage,
		&r.read, &r.created, &r.updated, &r.deleted}
}

func (r *briefingRow) proto() (*pb.Briefing, error) {
	status, ok := statusFromStored[r.status]
	if !ok {
		return nil, errUnknownStored
	}
	b := &pb.Briefing{
		Id:           r.id,
		UserId:       r.userID,
		Status:       status,
		ErrorMessage: r.errorMessage,
		ReadAt:       timestamp(r.read),
		CreateTime:   timestamp(r.created),
		UpdateTime:   timestamp(r.updated),
		DeleteTime:   timestamp(r.deleted),
	}
	if r.content != nil {
		content := &structpb.Struct{}
		if err := protojson.Unmarshal(r.content, content); err != nil {
			return nil, errBadContent
		}
		b.Content = content
	}
	return b, nil
}

var statusFromStored = map[string]pb.BriefingStatus{
	"pending":    pb.BriefingStatus_BRIEFING_STATUS_PENDING,
	"processing": pb.BriefingStatus_BRIEFING_STATUS_PROCESSING,
	"completed":  pb.BriefingStatus_BRIEFING_STATUS_COMPLETED,
	"failed":     pb.BriefingStatus_BRIEFING_STATUS_FAILED,
}

// timestamp converts epoch microseconds; NULL leaves the field unset.
func timestamp(micros pgtype.Int8) *timestamppb.Timestamp {
	if micros.Status != pgtype.Present {
		return nil
	}
	seconds, rest := micros.Int/1_000_000, micros.Int%1_000_000
	if rest < 0 { // floor, so instants before 1970 keep 0 <= nanos < 1e9
		seconds--
		rest += 1_000_000
	}
	return &timestamppb.Timestamp{Seconds: seconds, Nanos: int32(rest * 1000)}
}

type storedDataError string

func (e storedDataError) Error() string { return string(e) }

const (
	errUnknownStored = storedDataError("unknown role or status stored")
	errBadContent    = storedDataError("stored briefing content is not a JSON object")
)
