package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "firstsip/gen/firstsipv1"
)

type userService struct {
	pb.UnimplementedUserServiceServer
	db *pgxpool.Pool
}

func (s *userService) GetUser(ctx context.Context, req *pb.GetUserRequest) (*pb.User, error) {
	if err := validateID(req.GetId(), "id"); err != nil {
		return nil, err
	}
	var row userRow
	err := s.db.QueryRow(ctx, sqlGetUser, req.GetId(), req.GetShowDeleted()).Scan(row.dest()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, status.Error(codes.NotFound, fmt.Sprintf("user %d not found", req.GetId()))
	}
	if err != nil {
		return nil, dbError(ctx, "GetUser", err)
	}
	user, err := row.proto()
	if err != nil {
		return nil, internalError("GetUser", err.Error())
	}
	return user, nil
}
