package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "firstsip/gen/firstsipv1"
)

const (
	defaultPageSize = 50
	maxPageSize     = 1000
	createAttempts  = 3
)

type briefingService struct {
	pb.UnimplementedBriefingServiceServer
	db *pgxpool.Pool
}

func (s *briefingService) ListBriefings(ctx context.Context, req *pb.ListBriefingsRequest) (*pb.ListBriefingsResponse, error) {
	if err := validateID(req.GetUserId(), "user_id"); err != nil {
		return nil, err
	}
	pageSize := int(req.GetPageSize())
	switch {
	case pageSize < 0:
		return nil, invalid("page_size", "must not be negative")
	case pageSize == 0:
		pageSize = defaultPageSize
	case pageSize > maxPageSize:
		pageSize = maxPageSize
	}
	var statusFilter interface{} // NULL: every status
	if st := req.GetStatus(); st != pb.BriefingStatus_BRIEFING_STATUS_UNSPECIFIED {
		stored, ok := storedStatus[st]
		if !ok {
			return nil, invalid("status", fmt.Sprintf("not a briefing status (got %d)", int32(st)))
		}
		statusFilter = stored
	}
	filter := listFilter(req)
	before := int64(math.MaxInt64)
	if token := req.GetPageToken(); token != "" {
		var ok bool
		if before, ok = decodePageToken(token, filter); !ok {
			return nil, invalid("page_token", "not a page token this service issued for this request "+
				"(tokens are bound to their filters; start again without one)")
		}
	}

	// One row more than the page tells whether another page follows.
	rows, err := s.db.Query(ctx, sqlListBriefings, req.GetUserId(), before, statusFilter,
		req.GetUnreadOnly(), int64(pageSize+1))
	if err != nil {
		return nil, dbError(ctx, "ListBriefings", err)
	}
	defer rows.Close()
	userFound := false
	briefings := make([]*pb.Briefing, 0, pageSize+1)
	var row briefingRow
	for rows.Next() {
		userFound = true
		if rows.RawValues()[0] == nil { // the user's row with no briefing: an empty page
			continue
		}
		if err := rows.Scan(row.dest()...); err != nil {
			return nil, dbError(ctx, "ListBriefings", err)
		}
		b, err := row.proto()
		if err != nil {
			return nil, internalError("ListBriefings", err.Error())
		}
		briefings = append(briefings, b)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError(ctx, "ListBriefings", err)
	}
	if !userFound {
		return nil, status.Error(codes.NotFound, fmt.Sprintf("user %d not found", req.GetUserId()))
	}
	resp := &pb.ListBriefingsResponse{Briefings: briefings}
	if len(briefings) > pageSize {
		resp.Briefings = briefings[:pageSize]
		resp.NextPageToken = encodePageToken(filter, resp.Briefings[pageSize-1].GetId())
	}
	return resp, nil
}

func (s *briefingService) CreateBriefing(ctx context.Context, req *pb.CreateBriefingRequest) (*pb.Briefing, error) {
	if err := validateID(req.GetUserId(), "user_id"); err != nil {
		return nil, err
	}
	var requestID interface{} // NULL: no idempotency key
	if id := req.GetRequestId(); id != "" {
		if err := validateText(id, "request_id", 128); err != nil {
			return nil, err
		}
		requestID = id
	}
	for attempt := 1; ; attempt++ {
		var row briefingRow
		err := s.db.QueryRow(ctx, sqlCreateBriefing, req.GetUserId(), requestID).Scan(row.dest()...)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return nil, status.Error(codes.NotFound, "user not found (or deleted)")
		case err != nil:
			// A concurrent create with the same request_id won; the retry finds its row.
			if uniqueViolationOn(err) == "briefings_user_request_id_key" && attempt < createAttempts {
				continue
			}
			return nil, dbError(ctx, "CreateBriefing", err)
		}
		b, err := row.proto()
		if err != nil {
			return nil, internalError("CreateBriefing", err.Error())
		}
		return b, nil
	}
}

var storedStatus = map[pb.BriefingStatus]string{
	pb.BriefingStatus_BRIEFING_STATUS_PENDING:    "pending",
	pb.BriefingStatus_BRIEFING_STATUS_PROCESSING: "processing",
	pb.BriefingStatus_BRIEFING_STATUS_COMPLETED:  "completed",
	pb.BriefingStatus_BRIEFING_STATUS_FAILED:     "failed",
}

// Page tokens in the C++ service's format (server/logic/page_token.cc), so tokens are
// interchangeable: base64url without padding of version 1 | last id (8, big-endian) | the first
// 8 bytes of SHA-256 over "len:collection|len:filter|id".

const briefingsCollection = "briefings"

func listFilter(req *pb.ListBriefingsRequest) string {
	unread := "0"
	if req.GetUnreadOnly() {
		unread = "1"
	}
	return "user=" + strconv.FormatInt(req.GetUserId(), 10) +
		";status=" + strconv.Itoa(int(req.GetStatus())) + ";unread_only=" + unread
}

func tokenDigest(filter string, key int64) [sha256.Size]byte {
	input := strconv.Itoa(len(briefingsCollection)) + ":" + briefingsCollection + "|" +
		strconv.Itoa(len(filter)) + ":" + filter + "|" + strconv.FormatInt(key, 10)
	return sha256.Sum256([]byte(input))
}

func encodePageToken(filter string, key int64) string {
	var raw [17]byte
	raw[0] = 1
	binary.BigEndian.PutUint64(raw[1:9], uint64(key))
	digest := tokenDigest(filter, key)
	copy(raw[9:], digest[:8])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func decodePageToken(token, filter string) (int64, bool) {
	if len(token) > 64 {
		return 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(token, "="))
	if err != nil || len(raw) != 17 || raw[0] != 1 {
		return 0, false
	}
	key := int64(binary.BigEndian.Uint64(raw[1:9]))
	digest := tokenDigest(filter, key)
	if string(raw[9:]) != string(digest[:8]) {
		return 0, false
	}
	return key, true
}
