package main

import (
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Input rules, as in server/logic/validators.cc and identity_rules.cc; each error names the
// field. (grpc-go already refuses proto3 strings that are not UTF-8 while unmarshalling.)

func invalid(field, rule string) error {
	return status.Error(codes.InvalidArgument, field+": "+rule)
}

func validateID(id int64, field string) error {
	if id <= 0 {
		return invalid(field, "must be a positive id")
	}
	return nil
}

// validateText: well-formed UTF-8 without NUL bytes, at most maxBytes long.
func validateText(value, field string, maxBytes int) error {
	if len(value) > maxBytes {
		return invalid(field, "must be at most "+strconv.Itoa(maxBytes)+" bytes")
	}
	if strings.IndexByte(value, 0) >= 0 {
		return invalid(field, "must not contain NUL bytes")
	}
	if !utf8.ValidString(value) {
		return invalid(field, "must be valid UTF-8")
	}
	return nil
}

func validateProvider(provider string) error {
	ok := len(provider) >= 1 && len(provider) <= 32
	for i := 0; ok && i < len(provider); i++ {
		c := provider[i]
		ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
	}
	if !ok {
		return invalid("provider", `must be 1 to 32 of a-z, 0-9, '_' or '-', e.g. "google"`)
	}
	return nil
}

// validateEmail: one address "local@domain" within RFC 5321's lengths.
func validateEmail(email, field string) error {
	if email == "" {
		return invalid(field, "is required")
	}
	if err := validateText(email, field, 254); err != nil {
		return err
	}
	for i := 0; i < len(email); i++ {
		switch c := email[i]; {
		case c <= 0x20, c == 0x7f, strings.IndexByte(`<>,;"()[]\`, c) >= 0:
			return invalid(field, "must be a single address without spaces, quotes or brackets")
		}
	}
	at := strings.IndexByte(email, '@')
	if at < 0 || strings.IndexByte(email[at+1:], '@') >= 0 {
		return invalid(field, "must contain exactly one '@'")
	}
	local, domain := email[:at], email[at+1:]
	if len(local) == 0 || len(local) > 64 {
		return invalid(field, "needs 1 to 64 characters before the '@'")
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return invalid(field, "must not start, end or repeat dots before the '@'")
	}
	if domain == "" || !strings.Contains(domain, ".") || domain[0] == '.' ||
		domain[len(domain)-1] == '.' || strings.Contains(domain, "..") || domain[0] == '-' {
		return invalid(field, "needs a domain such as example.com after the '@'")
	}
	return nil
}

// knownZones caches the IANA names that loaded: time.LoadLocation reads the zoneinfo file on
// every call. Only names found in the tz database get in, so it stays small.
var knownZones sync.Map

// timezoneOrUTC takes a valid IANA zone name and turns anything else into "UTC", as SignIn does.
func timezoneOrUTC(name string) string {
	if _, ok := knownZones.Load(name); ok {
		return name
	}
	plain := name != "" && len(name) <= 64 && name[0] != '/' && !strings.Contains(name, "..") &&
		!strings.HasPrefix(name, "Fixed/") && name != "Local"
	for i := 0; plain && i < len(name); i++ {
		c := name[i]
		plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			c == '/' || c == '_' || c == '-' || c == '+'
	}
	if !plain {
		return "UTC"
	}
	if _, err := time.LoadLocation(name); err != nil {
		return "UTC"
	}
	knownZones.Store(name, struct{}{})
	return name
}
