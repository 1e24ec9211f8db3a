// print-user TARGET ID: prints a user's email, or the service's error.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "firstsip/client/client.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: print-user HOST:PORT USER_ID\n");
    return 2;
  }
  firstsip::client::ClientOptions options;
  options.target = argv[1];
  auto client = firstsip::client::Client::Create(options);
  if (!client.ok()) return 2;
  absl::StatusOr<firstsip::v1::User> user = (*client)->GetUser(std::atoll(argv[2]));
  if (!user.ok()) {
    std::fprintf(stderr, "%s\n", user.status().ToString().c_str());
    return 1;
  }
  std::printf("%s\n", user->email().c_str());
  return 0;
}
