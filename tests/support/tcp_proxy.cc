#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace firstsip::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  return address;
}

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int upstream_port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in address = Loopback(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 64) != 0) {
    absl::Status error = Errno("bind/listen");
    close(fd);
    return error;
  }
  socklen_t length = sizeof(address);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    absl::Status error = Errno("getsockname");
    close(fd);
    return error;
  }
  return std::unique_ptr<TcpProxy>(new TcpProxy(fd, ntohs(address.sin_port), upstream_port));
}

TcpProxy::TcpProxy(int listen_fd, int port, int upstream_port)
    : listen_fd_(listen_fd), port_(port), upstream_port_(upstream_port) {
  thread_ = std::thread([this] { Run(); });
}

TcpProxy::~TcpProxy() {
  stopping_.store(true);
  thread_.join();
  for (const Link& link : links_) {
    close(link.downstream);
    if (link.upstream >= 0) close(link.upstream);
  }
  close(listen_fd_);
}

void TcpProxy::Run() {
  std::vector<pollfd> polled;
  while (!stopping_.load()) {
    const bool frozen = frozen_.load();
    polled.assign(1, pollfd{listen_fd_, POLLIN, 0});
    if (!frozen) {
      for (const Link& link : links_) {
        polled.push_back(pollfd{link.downstream, POLLIN, 0});
        polled.push_back(pollfd{link.upstream, POLLIN, 0});
      }
    }
    // A short timeout, so that Freeze() and the destructor take effect promptly.
    if (poll(polled.data(), polled.size(), 20) <= 0) continue;
    if (frozen) {
      if ((polled[0].revents & POLLIN) != 0) Accept();
      continue;
    }
    std::vector<Link> kept;
    for (size_t i = 0; i < links_.size(); ++i) {
      const Link& link = links_[i];
      const pollfd& down = polled[1 + 2 * i];
      const pollfd& up = polled[2 + 2 * i];
      const bool open = (down.revents == 0 || Carry(link.downstream, link.upstream)) &&
                        (up.revents == 0 || Carry(link.upstream, link.downstream));
      if (open) {
        kept.push_back(link);
      } else {
        close(link.downstream);
        close(link.upstream);
      }
    }
    links_.swap(kept);
    // After the links polled above, so that a new one is not read with no poll entry of its own.
    if ((polled[0].revents & POLLIN) != 0) Accept();
  }
}

void TcpProxy::Accept() {
  const int downstream = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (downstream < 0) return;
  if (frozen_.load()) {
    links_.push_back(Link{downstream, -1});
    return;
  }
  const int upstream = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = Loopback(upstream_port_);
  if (upstream < 0 ||
      connect(upstream, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    if (upstream >= 0) close(upstream);
    close(downstream);
    return;
  }
  const int one = 1;
  setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(downstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  links_.push_back(Link{downstream, upstream});
}

bool TcpProxy::Carry(int from, int to) {
  char buffer[64 * 1024];
  const ssize_t got = read(from, buffer, sizeof(buffer));
  if (got <= 0) return got < 0 && (errno == EINTR || errno == EAGAIN);
  for (ssize_t sent = 0; sent < got;) {
    const ssize_t wrote = write(to, buffer + sent, static_cast<size_t>(got - sent));
    if (wrote < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    sent += wrote;
  }
  return true;
}

}  // namespace firstsip::testing
