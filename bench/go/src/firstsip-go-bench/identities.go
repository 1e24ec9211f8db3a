package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v4/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "firstsip/gen/firstsipv1"
)

const (
	signInAttempts = 5
	maxTokenBytes  = 16 * 1024
	// google.protobuf.Timestamp's range: 0001-01-01 to 9999-12-31.
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

type identityService struct {
	pb.UnimplementedIdentityServiceServer
	db     *pgxpool.Pool
	sealer *tokenSealer
}

func (s *identityService) SignIn(ctx context.Context, req *pb.SignInRequest) (*pb.SignInResponse, error) {
	if err := validateProvider(req.GetProvider()); err != nil {
		return nil, err
	}
	if req.GetProviderUserId() == "" {
		return nil, invalid("provider_user_id", "is required")
	}
	if err := validateText(req.GetProviderUserId(), "provider_user_id", 255); err != nil {
		return nil, err
	}
	if err := validateEmail(req.GetEmail(), "email"); err != nil {
		return nil, err
	}
	if err := validateText(req.GetName(), "name", 256); err != nil {
		return nil, err
	}
	timezone := timezoneOrUTC(req.GetTimezone())

	// Empty tokens and an unset expiry keep what is stored (NULL parameters).
	var access, refresh, expiry interface{}
	tokens := req.GetTokens()
	var err error
	if access, err = s.sealToken(tokens.GetAccessToken(), "access_token", req); err != nil {
		return nil, err
	}
	if refresh, err = s.sealToken(tokens.GetRefreshToken(), "refresh_token", req); err != nil {
		return nil, err
	}
	if e := tokens.GetExpiry(); e != nil {
		if e.Seconds < minTimestampSeconds || e.Seconds > maxTimestampSeconds || e.Nanos < 0 || e.Nanos > 999_999_999 {
			return nil, invalid("tokens.expiry", "must be a valid timestamp (years 1 to 9999)")
		}
		expiry = e.Seconds*1_000_000 + int64(e.Nanos/1000)
	}

	for attempt := 1; ; attempt++ {
		resp, err := s.signIn(ctx, req, timezone, access, refresh, expiry)
		if err == nil {
			return resp, nil
		}
		if _, isStatus := status.FromError(err); isStatus {
			return nil, err
		}
		// Concurrent first sign-ins of one identity collide on a unique index; the loser's
		// statement rolled back whole, and its retry finds what the winner committed.
		if c := uniqueViolationOn(err); (c == "users_live_email_key" || c == "auth_identities_provider_account_key") &&
			attempt < signInAttempts {
			continue
		}
		return nil, dbError(ctx, "SignIn", err)
	}
}

// sealToken encrypts a non-empty token for its column; an empty one stays NULL.
func (s *identityService) sealToken(token, column string, req *pb.SignInRequest) (interface{}, error) {
	if token == "" {
		return nil, nil
	}
	if err := validateText(token, "tokens."+column, maxTokenBytes); err != nil {
		return nil, err
	}
	sealed, err := s.sealer.seal(token, column, req.GetProvider(), req.GetProviderUserId())
	if err != nil {
		return nil, internalError("SignIn", "encryption failed")
	}
	return sealed, nil
}

// signIn runs the statement once. Errors it returns that are not statuses come from pgx.
func (s *identityService) signIn(ctx context.Context, req *pb.SignInRequest, timezone string,
	access, refresh, expiry interface{}) (*pb.SignInResponse, error) {
	rows, err := s.db.Query(ctx, sqlSignIn, req.GetProvider(), req.GetProviderUserId(), req.GetEmail(),
		req.GetName(), timezone, access, refresh, expiry)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		outcome                      string
		userCreated, identityCreated bool
		user                         userRow
		identity                     identityRow
		n                            int
	)
	dest := append([]interface{}{&outcome, &userCreated, &identityCreated}, user.dest()...)
	dest = append(dest, identity.dest()...)
	for rows.Next() {
		if n++; n == 1 {
			if err := rows.Scan(dest...); err != nil {
				return nil, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, internalError("SignIn", "sign-in statement returned no outcome")
	}
	u, err := user.proto()
	if err != nil {
		return nil, internalError("SignIn", err.Error())
	}
	if outcome == "user_deleted" {
		return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf(
			"identity %d belongs to user %d, which is deleted; undelete the user first", identity.id, user.id))
	}
	return &pb.SignInResponse{
		User:            u,
		Identity:        identity.proto(),
		UserCreated:     userCreated,
		IdentityCreated: identityCreated,
	}, nil
}
