package main

import (
	"context"
	"errors"
	"io"
	"log"
	"net"

	"github.com/jackc/pgconn"
	"github.com/jackc/puddle"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// dbError turns an error from pgx into a gRPC status, sorted the way the C++ service's
// db::StatusFromResult sorts SQLSTATEs. Messages name the call and the SQLSTATE, never SQL
// text or parameter values.
func dbError(ctx context.Context, call string, err error) error {
	// The caller's deadline or cancellation wins over whatever pgx made of it (a cancelled
	// statement comes back as 57014, or as a closed connection).
	if ctxErr := ctx.Err(); ctxErr != nil {
		return status.FromContextError(ctxErr).Err()
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := codeForSQLState(pgErr.Code)
		if code == codes.Internal {
			log.Printf("%s: %v", call, err)
		}
		return status.Errorf(code, "%s: database error (SQLSTATE %s)", call, pgErr.Code)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	if isConnectionError(err) {
		return status.Errorf(codes.Unavailable, "%s: database unavailable", call)
	}
	log.Printf("%s: %v", call, err)
	return status.Errorf(codes.Internal, "%s: internal error", call)
}

// isConnectionError: the database could not be reached, or the connection broke.
func isConnectionError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, puddle.ErrClosedPool) || pgconn.SafeToRetry(err)
}

func codeForSQLState(state string) codes.Code {
	switch state {
	case "23505":
		return codes.AlreadyExists
	case "23502", "23514":
		return codes.InvalidArgument
	case "40001", "40P01":
		return codes.Aborted
	case "53300", "25006", "57P01", "57P02", "57P03":
		return codes.Unavailable
	}
	if len(state) != 5 {
		return codes.Internal
	}
	switch state[:2] {
	case "23":
		return codes.FailedPrecondition
	case "22":
		return codes.InvalidArgument
	case "08":
		return codes.Unavailable
	}
	return codes.Internal
}

// uniqueViolationOn names the constraint a unique violation hit ("" for any other error).
func uniqueViolationOn(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return pgErr.ConstraintName
	}
	return ""
}

// internalError reports a bug or corrupt data: logged here, generic to the caller.
func internalError(call, what string) error {
	log.Printf("%s: %s", call, what)
	return status.Errorf(codes.Internal, "%s: %s", call, what)
}
