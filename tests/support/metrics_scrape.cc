#include "support/metrics_scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace firstsip::testing {

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return "";
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buffer[4096];
  ssize_t got;
  while ((got = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, got);
  close(fd);
  size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? response : response.substr(body + 4);
}

int MetricsPort(const std::string& output) {
  constexpr char kMarker[] = "metrics on http://127.0.0.1:";
  size_t at = output.find(kMarker);
  if (at == std::string::npos) return 0;
  int port = 0;
  size_t start = at + sizeof(kMarker) - 1;
  (void)absl::SimpleAtoi(output.substr(start, output.find('/', start) - start), &port);
  return port;
}

double MetricValue(const std::string& body, const std::vector<std::string>& parts) {
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    bool all = true;
    for (const std::string& part : parts) all &= absl::StrContains(line, part);
    if (!all) continue;
    double value = -1;
    (void)absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value);
    return value;
  }
  return -1;
}

}  // namespace firstsip::testing
