// firstsip-go-bench: the First Sip data service's hot calls (GetUser, ListBriefings, SignIn,
// CreateBriefing) written the way a Go team would write them, over the same schema and the
// same SQL, as the baseline the C++ service is measured against. Every other RPC answers
// UNIMPLEMENTED.
//
//	ENCRYPTION_KEY=$(openssl rand -base64 32) firstsip-go-bench \
//	  --listen=127.0.0.1:50081 --database-url=postgresql://postgres@127.0.0.1:5432/bench
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4/pgxpool"
	"google.golang.org/grpc"

	pb "firstsip/gen/firstsipv1"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:50051", "address to serve gRPC on")
	databaseURL := flag.String("database-url", "", "PostgreSQL URL or key=value DSN")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("firstsip-go-bench: ")
	if *databaseURL == "" {
		fmt.Fprintln(os.Stderr, "firstsip-go-bench: --database-url is required")
		os.Exit(2)
	}
	sealer, err := newTokenSealer(os.Getenv("ENCRYPTION_KEY"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "firstsip-go-bench:", err)
		os.Exit(2)
	}

	config, err := pgxpool.ParseConfig(*databaseURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "firstsip-go-bench: --database-url:", err)
		os.Exit(2)
	}
	config.MaxConns = 20
	// Statements: pgx's default statement cache (prepare mode, 512 per connection) prepares
	// each SQL text the first time a connection runs it and executes the prepared statement
	// from then on, as the C++ pool does with its named statements.
	connectCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	pool, err := pgxpool.ConnectConfig(connectCtx, config) // fails fast if unreachable
	cancel()
	if err != nil {
		log.Fatalf("cannot connect to the database: %v", err)
	}
	defer pool.Close()

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("cannot listen on %s: %v", *listen, err)
	}
	server := grpc.NewServer()
	pb.RegisterUserServiceServer(server, &userService{db: pool})
	pb.RegisterBriefingServiceServer(server, &briefingService{db: pool})
	pb.RegisterIdentityServiceServer(server, &identityService{db: pool, sealer: sealer})

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-stop
		server.GracefulStop() // in-flight calls finish; Serve then returns
	}()

	fmt.Fprintf(os.Stderr, "firstsip-go-bench: serving on %s\n", listener.Addr())
	if err := server.Serve(listener); err != nil {
		log.Printf("serve: %v", err)
	}
}
