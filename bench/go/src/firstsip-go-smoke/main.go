// firstsip-go-smoke: checks the four calls of a First Sip server (the Go baseline or the C++
// service) against a database seeded as bench/go/README.md describes, and prints what each
// returned. With --database-url it also reads auth_identities to check that the tokens it
// signed in with are stored sealed, and (with ENCRYPTION_KEY) that they open again; with
// --cross-target, that the other service reads its tokens and page tokens.
// Exits 1 on the first failed check.
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "firstsip/gen/firstsipv1"
)

var (
	target      = flag.String("target", "127.0.0.1:50051", "server address")
	databaseURL = flag.String("database-url", "", "optional: check the stored tokens too")
	userID      = flag.Int64("user-id", 1, "a seeded live user")
	email       = flag.String("email", "ada@example.com", "that user's email")
	deletedID   = flag.Int64("deleted-user-id", 0, "optional: a seeded soft-deleted user")
	listUserID  = flag.Int64("list-user-id", 1, "a user with seeded briefings")
	listCount   = flag.Int("list-count", 5, "how many live briefings that user has (completed ones with content)")
	emptyUserID = flag.Int64("empty-user-id", 2, "a live user without briefings")
	missingID   = flag.Int64("missing-id", 999999999, "an id no user has")
	crossTarget = flag.String("cross-target", "", "optional: the C++ service on the same database; "+
		"checks that it opens the tokens --target sealed (GetTokens) and that --target takes its page tokens")
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func ok(format string, args ...interface{}) { fmt.Printf("ok   "+format+"\n", args...) }

func expectCode(err error, want codes.Code, what string) {
	if got := status.Code(err); got != want {
		fail("%s: got %v (%v), want %v", what, got, err, want)
	}
	ok("%s -> %v: %s", what, want, status.Convert(err).Message())
}

func main() {
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, *target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail("dial %s: %v", *target, err)
	}
	defer conn.Close()
	users := pb.NewUserServiceClient(conn)
	briefings := pb.NewBriefingServiceClient(conn)
	identities := pb.NewIdentityServiceClient(conn)

	// GetUser.
	user, err := users.GetUser(ctx, &pb.GetUserRequest{Id: *userID})
	if err != nil || user.GetEmail() != *email || user.GetRole() != pb.Role_ROLE_USER ||
		user.GetCreateTime() == nil || !strings.HasPrefix(user.GetEtag(), "r") || user.GetDeleteTime() != nil {
		fail("GetUser(%d): %v %v", *userID, user, err)
	}
	ok("GetUser(%d) -> %s", *userID, protojson.Format(user))
	_, err = users.GetUser(ctx, &pb.GetUserRequest{Id: *missingID})
	expectCode(err, codes.NotFound, fmt.Sprintf("GetUser(%d)", *missingID))
	_, err = users.GetUser(ctx, &pb.GetUserRequest{Id: 0})
	expectCode(err, codes.InvalidArgument, "GetUser(0)")
	if *deletedID > 0 {
		_, err = users.GetUser(ctx, &pb.GetUserRequest{Id: *deletedID})
		expectCode(err, codes.NotFound, fmt.Sprintf("GetUser(%d) of a deleted user", *deletedID))
		deleted, err := users.GetUser(ctx, &pb.GetUserRequest{Id: *deletedID, ShowDeleted: true})
		if err != nil || deleted.GetDeleteTime() == nil {
			fail("GetUser(%d, show_deleted): %v %v", *deletedID, deleted, err)
		}
		ok("GetUser(%d, show_deleted) -> %s, delete_time %s", *deletedID, deleted.GetEmail(),
			deleted.GetDeleteTime().AsTime().Format(time.RFC3339))
	}

	// ListBriefings: one page, then pages of 2 that must add up to the same rows.
	page, err := briefings.ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *listUserID})
	if err != nil || len(page.GetBriefings()) != *listCount || page.GetNextPageToken() != "" {
		fail("ListBriefings(%d): %d rows, token %q, %v", *listUserID, len(page.GetBriefings()), page.GetNextPageToken(), err)
	}
	var all []int64
	for i, b := range page.GetBriefings() {
		completed := b.GetStatus() == pb.BriefingStatus_BRIEFING_STATUS_COMPLETED
		if b.GetUserId() != *listUserID || completed != (len(b.GetContent().GetFields()) > 0) ||
			(i > 0 && b.GetId() >= all[i-1]) {
			fail("ListBriefings(%d): row %d is %v", *listUserID, i, b)
		}
		all = append(all, b.GetId())
	}
	last := page.GetBriefings()[len(all)-1]
	ok("ListBriefings(%d) -> %d rows, ids %v (newest first); oldest: status %v content %s",
		*listUserID, len(all), all, last.GetStatus(), protojson.Format(last.GetContent()))
	var paged []int64
	token := ""
	for pages := 0; ; pages++ {
		p, err := briefings.ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *listUserID, PageSize: 2, PageToken: token})
		if err != nil || pages > *listCount {
			fail("ListBriefings(%d, page_size 2, token %q): %v", *listUserID, token, err)
		}
		for _, b := range p.GetBriefings() {
			paged = append(paged, b.GetId())
		}
		if token = p.GetNextPageToken(); token == "" {
			break
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint(all) {
		fail("pages of 2 gave %v, one page gave %v", paged, all)
	}
	ok("ListBriefings(%d, page_size 2) pages -> %v", *listUserID, paged)
	empty, err := briefings.ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *emptyUserID})
	if err != nil || len(empty.GetBriefings()) != 0 {
		fail("ListBriefings(%d): %v %v", *emptyUserID, empty, err)
	}
	ok("ListBriefings(%d) -> 0 rows", *emptyUserID)
	_, err = briefings.ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *missingID})
	expectCode(err, codes.NotFound, fmt.Sprintf("ListBriefings(%d)", *missingID))
	_, err = briefings.ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *listUserID, PageToken: "bogus"})
	expectCode(err, codes.InvalidArgument, "ListBriefings(bad page token)")

	// SignIn: a new identity and user, then the same identity again, then a new provider
	// account for an existing user's email.
	n := strconv.FormatInt(time.Now().UnixNano(), 36)
	access, refresh := "plain-access-"+n, "plain-refresh-"+n
	signIn := &pb.SignInRequest{
		Provider: "google", ProviderUserId: "smoke-" + n, Email: "smoke-" + n + "@example.com",
		Name: "Smoke " + n, Timezone: "Europe/Berlin",
		Tokens: &pb.OAuthTokens{AccessToken: access, RefreshToken: refresh,
			Expiry: timestamppb.New(time.Now().Add(time.Hour))},
	}
	created, err := identities.SignIn(ctx, signIn)
	if err != nil || !created.GetUserCreated() || !created.GetIdentityCreated() ||
		created.GetUser().GetEmail() != signIn.Email || created.GetUser().GetTimezone() != "Europe/Berlin" ||
		!created.GetIdentity().GetHasAccessToken() || !created.GetIdentity().GetHasRefreshToken() ||
		created.GetIdentity().GetTokenExpiry() == nil || created.GetUser().GetLastLoginAt() == nil {
		fail("SignIn (first): %v %v", created, err)
	}
	ok("SignIn(new) -> user_created=%v identity_created=%v user %d identity %d",
		created.GetUserCreated(), created.GetIdentityCreated(), created.GetUser().GetId(), created.GetIdentity().GetId())
	signIn.Tokens = &pb.OAuthTokens{AccessToken: access + "-2"}
	again, err := identities.SignIn(ctx, signIn)
	if err != nil || again.GetUserCreated() || again.GetIdentityCreated() ||
		again.GetUser().GetId() != created.GetUser().GetId() || again.GetIdentity().GetId() != created.GetIdentity().GetId() ||
		!again.GetIdentity().GetHasRefreshToken() {
		fail("SignIn (again): %v %v", again, err)
	}
	ok("SignIn(same identity) -> user_created=%v identity_created=%v, same user %d and identity %d",
		again.GetUserCreated(), again.GetIdentityCreated(), again.GetUser().GetId(), again.GetIdentity().GetId())
	linked, err := identities.SignIn(ctx, &pb.SignInRequest{Provider: "github", ProviderUserId: "smoke-" + n,
		Email: strings.ToUpper(*email), Timezone: "Not/AZone"})
	if err != nil || linked.GetUserCreated() || !linked.GetIdentityCreated() || linked.GetUser().GetId() != *userID ||
		linked.GetIdentity().GetHasAccessToken() {
		fail("SignIn (link by email): %v %v", linked, err)
	}
	ok("SignIn(new provider account, email of user %d) -> user_created=%v identity_created=%v, linked to user %d",
		*userID, linked.GetUserCreated(), linked.GetIdentityCreated(), linked.GetUser().GetId())
	_, err = identities.SignIn(ctx, &pb.SignInRequest{Provider: "Google!", ProviderUserId: "x", Email: "a@b.co"})
	expectCode(err, codes.InvalidArgument, "SignIn(bad provider)")

	// CreateBriefing.
	b, err := briefings.CreateBriefing(ctx, &pb.CreateBriefingRequest{UserId: *userID})
	if err != nil || b.GetStatus() != pb.BriefingStatus_BRIEFING_STATUS_PENDING || b.GetUserId() != *userID || b.GetContent() != nil {
		fail("CreateBriefing: %v %v", b, err)
	}
	ok("CreateBriefing(%d) -> id %d status %v", *userID, b.GetId(), b.GetStatus())
	req := &pb.CreateBriefingRequest{UserId: *userID, RequestId: "smoke-" + n}
	b1, err1 := briefings.CreateBriefing(ctx, req)
	b2, err2 := briefings.CreateBriefing(ctx, req)
	if err1 != nil || err2 != nil || b1.GetId() != b2.GetId() || b1.GetId() == b.GetId() {
		fail("CreateBriefing with request_id twice: %v %v / %v %v", b1, err1, b2, err2)
	}
	ok("CreateBriefing(%d, request_id) twice -> the same id %d", *userID, b1.GetId())
	_, err = briefings.CreateBriefing(ctx, &pb.CreateBriefingRequest{UserId: *missingID})
	expectCode(err, codes.NotFound, fmt.Sprintf("CreateBriefing(%d)", *missingID))

	// Another call of the service answers UNIMPLEMENTED in the Go baseline.
	if _, err = users.GetUserByEmail(ctx, &pb.GetUserByEmailRequest{Email: *email}); status.Code(err) == codes.Unimplemented {
		ok("GetUserByEmail -> Unimplemented")
	}

	if *databaseURL != "" {
		checkStoredTokens(ctx, "google", "smoke-"+n, access+"-2", refresh)
	}
	if *crossTarget != "" {
		checkCross(ctx, created.GetIdentity().GetId(), access+"-2", refresh)
	}
	fmt.Println("all checks passed")
}

// checkCross asks the C++ service for the tokens this one sealed, and for the second page of
// a listing this one paged.
func checkCross(ctx context.Context, identityID int64, access, refresh string) {
	conn, err := grpc.DialContext(ctx, *crossTarget, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail("dial %s: %v", *crossTarget, err)
	}
	defer conn.Close()
	tokens, err := pb.NewIdentityServiceClient(conn).GetTokens(ctx, &pb.GetTokensRequest{IdentityId: identityID})
	if err != nil || tokens.GetAccessToken() != access || tokens.GetRefreshToken() != refresh {
		fail("GetTokens(%d) on %s: %v %v", identityID, *crossTarget, tokens, err)
	}
	ok("GetTokens(%d) on %s -> the plaintext tokens sealed by %s", identityID, *crossTarget, *target)
	first, err := pb.NewBriefingServiceClient(conn).ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *listUserID, PageSize: 2})
	if err != nil || first.GetNextPageToken() == "" {
		fail("ListBriefings on %s: %v %v", *crossTarget, first, err)
	}
	here, err := pb.NewBriefingServiceClient(conn).ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *listUserID, PageSize: 2,
		PageToken: first.GetNextPageToken()})
	if err != nil {
		fail("ListBriefings page 2 on %s: %v", *crossTarget, err)
	}
	mainConn, err := grpc.DialContext(ctx, *target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fail("dial %s: %v", *target, err)
	}
	defer mainConn.Close()
	there, err := pb.NewBriefingServiceClient(mainConn).ListBriefings(ctx, &pb.ListBriefingsRequest{UserId: *listUserID, PageSize: 2,
		PageToken: first.GetNextPageToken()})
	if err != nil || fmt.Sprint(ids(there)) != fmt.Sprint(ids(here)) {
		fail("page 2 from %s's token on %s: %v %v, want %v", *crossTarget, *target, ids(there), err, ids(here))
	}
	ok("page token %q from %s -> the same page %v on %s", first.GetNextPageToken(), *crossTarget, ids(there), *target)
}

func ids(page *pb.ListBriefingsResponse) []int64 {
	var out []int64
	for _, b := range page.GetBriefings() {
		out = append(out, b.GetId())
	}
	return out
}

// checkStoredTokens reads the identity's token columns: they must not hold the plaintext, must
// have the sealed layout, and (given ENCRYPTION_KEY) must open with it.
func checkStoredTokens(ctx context.Context, provider, providerUserID, access, refresh string) {
	db, err := pgx.Connect(ctx, *databaseURL)
	if err != nil {
		fail("connect: %v", err)
	}
	defer db.Close(ctx)
	var storedAccess, storedRefresh []byte
	err = db.QueryRow(ctx, "SELECT access_token, refresh_token FROM auth_identities "+
		"WHERE provider = $1 AND provider_user_id = $2", provider, providerUserID).Scan(&storedAccess, &storedRefresh)
	if err != nil {
		fail("read tokens: %v", err)
	}
	var aead cipher.AEAD
	if key, err := base64.StdEncoding.DecodeString(os.Getenv("ENCRYPTION_KEY")); err == nil && len(key) == 32 {
		block, _ := aes.NewCipher(key)
		aead, _ = cipher.NewGCM(block)
	}
	for _, t := range []struct {
		column, plain string
		stored        []byte
	}{{"access_token", access, storedAccess}, {"refresh_token", refresh, storedRefresh}} {
		if strings.Contains(string(t.stored), t.plain) || strings.Contains(string(t.stored), "plain-") {
			fail("%s is stored in plaintext", t.column)
		}
		if len(t.stored) != 1+4+12+len(t.plain)+16 || t.stored[0] != 1 {
			fail("%s: %d bytes, want version 1 and %d", t.column, len(t.stored), 1+4+12+len(t.plain)+16)
		}
		opened := "(not opened: no ENCRYPTION_KEY)"
		if aead != nil {
			ad := "firstsip.v1"
			for _, p := range []string{"auth_identities", t.column, provider, providerUserID} {
				ad += "|" + strconv.Itoa(len(p)) + ":" + p
			}
			plain, err := aead.Open(nil, t.stored[5:17], t.stored[17:], []byte(ad))
			if err != nil || string(plain) != t.plain {
				fail("%s does not open with ENCRYPTION_KEY and its associated data: %v", t.column, err)
			}
			opened = "opens to the token signed in with"
		}
		ok("auth_identities.%s: %d bytes, starts %x..., no plaintext; %s", t.column, len(t.stored), t.stored[:8], opened)
	}
}
