// A TCP proxy on loopback in front of a local port, for tests of a peer that vanishes without
// a word: Freeze() stops carrying bytes either way but keeps every socket open, as a lost node
// or a network partition does (no FIN, no RST), so only a keepalive can tell.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace firstsip::testing {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (a free port); each connection accepted is carried to
  // 127.0.0.1:upstream_port.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int upstream_port);
  // Closes every socket: both ends see the connection end.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // From now on nothing is carried, and new connections are accepted but never carried.
  void Freeze() { frozen_.store(true); }

 private:
  struct Link {
    int downstream;
    int upstream;  // -1 for a connection accepted while frozen
  };
  TcpProxy(int listen_fd, int port, int upstream_port);
  void Run();
  void Accept();
  // Carries what `from` has to `to`; false when `from` ended or failed.
  static bool Carry(int from, int to);

  const int listen_fd_;
  const int port_;
  const int upstream_port_;
  std::atomic<bool> frozen_{false};
  std::atomic<bool> stopping_{false};
  std::vector<Link> links_;  // the proxy's thread only
  std::thread thread_;
};

}  // namespace firstsip::testing
