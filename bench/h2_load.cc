// firstsip-h2load: a gRPC load generator as cheap as h2load (the same HTTP/2 library, nghttp2,
// one thread, no gRPC stack), but sending a different request each call: h2load repeats one
// body, and one GetUser id over and over would let a server that merges lookups by key answer
// 64 calls with one row, which flatters it. The bodies come from a file of gRPC frames (each
// 1 byte 0, 4 bytes big-endian length, the serialized request), written by firstsip-grpc-body,
// taken in turn, each connection starting at its own place.
//
//   firstsip-h2load --target=127.0.0.1:50071 --path=/firstsip.v1.UserService/GetUser
//     --bodies=get_user.bodies --connections=4 --streams=16 --seconds=5 --warmup=1
//
// Prints one tab-separated line: calls errors rps p50_ms p99_ms p999_ms completed, where calls
// and the latencies cover the measured seconds only and completed counts the warm-up's calls
// too (the CPU the caller measures covers both). A call is OK when the response's headers say
// :status 200 and its trailers grpc-status 0; the first few failures are described on stderr.
// Exits 1 when a connection fails.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "HOST:PORT (an IPv4 address)");
ABSL_FLAG(std::string, path, "", "the method's HTTP/2 path, /package.Service/Method");
ABSL_FLAG(std::string, bodies, "", "file of gRPC frames, one request each");
ABSL_FLAG(int, connections, 4, "HTTP/2 connections");
ABSL_FLAG(int, streams, 16, "calls in flight on each connection");
ABSL_FLAG(int, seconds, 5, "measured seconds");
ABSL_FLAG(int, warmup, 1, "seconds of calls before the measured ones");

namespace {

using Clock = std::chrono::steady_clock;

struct Shared {
  std::vector<std::string> bodies;
  std::string path;
  std::string authority;
  Clock::time_point measure_from;
  Clock::time_point stop_at;
  std::vector<int64_t> latencies_us;  // measured calls only
  int64_t calls = 0;                  // measured calls
  int64_t errors = 0;                 // measured calls that were not OK
  int64_t completed = 0;              // every call answered, warm-up included
  int reported = 0;                   // failures described on stderr so far
};

struct Call {
  const std::string* body = nullptr;
  size_t sent = 0;
  Clock::time_point start;
  std::string http_status;
  std::string grpc_status;
  std::string grpc_message;
};

class Connection {
 public:
  Connection(Shared& shared, int index) : shared_(shared), next_body_(index * 7919) {}
  ~Connection() {
    if (session_ != nullptr) nghttp2_session_del(session_);
    if (fd_ >= 0) close(fd_);
  }

  bool Open(const sockaddr_in& address, int epoll_fd, int streams) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 ||
        connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
      return Fail(absl::StrCat("connect: ", std::strerror(errno)));
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    nghttp2_session_callbacks* callbacks;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, &Connection::OnHeader);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &Connection::OnClose);
    nghttp2_session_client_new(&session_, callbacks, this);
    nghttp2_session_callbacks_del(callbacks);
    // Large windows: the answers' bytes never wait for a WINDOW_UPDATE.
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (1 << 30) - 1},
                                         {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
    nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, (1 << 30) - 1);
    for (int i = 0; i < streams; ++i) Submit();
    epoll_event event{};
    event.events = EPOLLIN | EPOLLOUT | EPOLLET;
    event.data.ptr = this;
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd_, &event) == 0 && Flush();
  }

  // Reads what arrived and writes what nghttp2 has to send; false when the connection failed.
  bool OnReady() {
    uint8_t buffer[65536];
    while (true) {
      ssize_t got = read(fd_, buffer, sizeof(buffer));
      if (got > 0) {
        if (nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(got)) < 0) {
          return Fail("malformed HTTP/2 from the server");
        }
        continue;
      }
      if (got == 0) return Fail("the server closed the connection");
      if (errno == EAGAIN) break;
      if (errno != EINTR) return Fail(absl::StrCat("read: ", std::strerror(errno)));
    }
    return Flush();
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  void Submit() {
    if (Clock::now() >= shared_.stop_at) return;
    auto call = std::make_unique<Call>();
    call->body = &shared_.bodies[next_body_++ % shared_.bodies.size()];
    call->start = Clock::now();
    const nghttp2_nv headers[] = {
        Header(":method", "POST"),
        Header(":scheme", "http"),
        Header(":path", shared_.path),
        Header(":authority", shared_.authority),
        Header("content-type", "application/grpc"),
        Header("te", "trailers"),
    };
    nghttp2_data_provider data{};
    data.read_callback = &Connection::ReadBody;
    Call* raw = call.release();
    if (nghttp2_submit_request(session_, nullptr, headers, std::size(headers), &data, raw) < 0) {
      delete raw;
    }
  }

  bool Flush() {
    while (true) {
      if (pending_offset_ == pending_.size()) {
        pending_.clear();
        pending_offset_ = 0;
        const uint8_t* data;
        ssize_t size;
        while ((size = nghttp2_session_mem_send(session_, &data)) > 0) {
          pending_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
        }
        if (size < 0) return Fail("nghttp2 cannot send");
        if (pending_.empty()) return true;
      }
      ssize_t wrote =
          write(fd_, pending_.data() + pending_offset_, pending_.size() - pending_offset_);
      if (wrote > 0) {
        pending_offset_ += static_cast<size_t>(wrote);
        continue;
      }
      if (wrote < 0 && errno == EAGAIN) return true;  // EPOLLOUT (edge) comes back for the rest
      if (wrote < 0 && errno == EINTR) continue;
      return Fail(absl::StrCat("write: ", std::strerror(errno)));
    }
  }

  static nghttp2_nv Header(const char* name, const std::string& value) {
    return Header(name, value.c_str(), value.size());
  }
  static nghttp2_nv Header(const char* name, const char* value) {
    return Header(name, value, std::strlen(value));
  }
  static nghttp2_nv Header(const char* name, const char* value, size_t length) {
    return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(name)),
                      reinterpret_cast<uint8_t*>(const_cast<char*>(value)), std::strlen(name),
                      length, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
  }

  static ssize_t ReadBody(nghttp2_session* session, int32_t stream, uint8_t* buffer, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void*) {
    auto* call = static_cast<Call*>(nghttp2_session_get_stream_user_data(session, stream));
    size_t left = call->body->size() - call->sent;
    size_t now = std::min(left, length);
    std::memcpy(buffer, call->body->data() + call->sent, now);
    call->sent += now;
    if (call->sent == call->body->size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(now);
  }

  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                      void*) {
    auto* call =
        static_cast<Call*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (call == nullptr) return 0;
    std::string_view key(reinterpret_cast<const char*>(name), name_length);
    std::string text(reinterpret_cast<const char*>(value), value_length);
    if (key == ":status") call->http_status = std::move(text);
    if (key == "grpc-status") call->grpc_status = std::move(text);
    if (key == "grpc-message") call->grpc_message = std::move(text);
    return 0;
  }

  static int OnClose(nghttp2_session* session, int32_t stream, uint32_t error_code, void* self) {
    std::unique_ptr<Call> call(
        static_cast<Call*>(nghttp2_session_get_stream_user_data(session, stream)));
    if (call == nullptr) return 0;
    auto* connection = static_cast<Connection*>(self);
    Shared& shared = connection->shared_;
    Clock::time_point now = Clock::now();
    ++shared.completed;
    bool ok =
        error_code == NGHTTP2_NO_ERROR && call->http_status == "200" && call->grpc_status == "0";
    if (now >= shared.measure_from && now < shared.stop_at) {
      ++shared.calls;
      shared.latencies_us.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(now - call->start).count());
      if (!ok) ++shared.errors;
    }
    if (!ok && shared.reported < 5) {
      ++shared.reported;
      std::fprintf(stderr, "firstsip-h2load: call failed: http %s, grpc-status %s (%s), h2 %u\n",
                   call->http_status.c_str(), call->grpc_status.c_str(), call->grpc_message.c_str(),
                   error_code);
    }
    connection->Submit();
    return 0;
  }

  Shared& shared_;
  size_t next_body_;
  int fd_ = -1;
  nghttp2_session* session_ = nullptr;
  std::string pending_;
  size_t pending_offset_ = 0;
  std::string error_;
};

bool ReadBodies(const std::string& path, std::vector<std::string>& bodies) {
  std::ifstream file(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  size_t at = 0;
  while (at + 5 <= all.size()) {
    uint32_t size = 0;
    for (int i = 1; i <= 4; ++i) size = (size << 8) | static_cast<unsigned char>(all[at + i]);
    if (all[at] != '\0' || at + 5 + size > all.size()) return false;
    bodies.push_back(all.substr(at, 5 + size));
    at += 5 + size;
  }
  return at == all.size() && !bodies.empty();
}

double Percentile(std::vector<int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  size_t index = std::min(sorted.size() - 1, static_cast<size_t>(fraction * sorted.size()));
  return static_cast<double>(sorted[index]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  Shared shared;
  shared.path = absl::GetFlag(FLAGS_path);
  shared.authority = absl::GetFlag(FLAGS_target);
  if (shared.path.empty() || !ReadBodies(absl::GetFlag(FLAGS_bodies), shared.bodies)) {
    std::fprintf(stderr, "firstsip-h2load: --path and a --bodies file of gRPC frames are needed\n");
    return 2;
  }
  std::vector<std::string> host_port = absl::StrSplit(shared.authority, ':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  int port = 0;
  if (host_port.size() != 2 || inet_pton(AF_INET, host_port[0].c_str(), &address.sin_addr) != 1 ||
      !absl::SimpleAtoi(host_port[1], &port)) {
    std::fprintf(stderr, "firstsip-h2load: --target must be IPv4:PORT\n");
    return 2;
  }
  address.sin_port = htons(static_cast<uint16_t>(port));

  Clock::time_point start = Clock::now();
  shared.measure_from = start + std::chrono::seconds(absl::GetFlag(FLAGS_warmup));
  shared.stop_at = shared.measure_from + std::chrono::seconds(absl::GetFlag(FLAGS_seconds));
  shared.latencies_us.reserve(1 << 20);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  std::vector<std::unique_ptr<Connection>> connections;
  for (int i = 0; i < absl::GetFlag(FLAGS_connections); ++i) {
    connections.push_back(std::make_unique<Connection>(shared, i));
    if (!connections.back()->Open(address, epoll_fd, absl::GetFlag(FLAGS_streams))) {
      std::fprintf(stderr, "firstsip-h2load: %s\n", connections.back()->error().c_str());
      return 1;
    }
  }
  epoll_event events[64];
  while (Clock::now() < shared.stop_at) {
    int ready = epoll_wait(epoll_fd, events, 64, 100);
    for (int i = 0; i < ready; ++i) {
      auto* connection = static_cast<Connection*>(events[i].data.ptr);
      if (!connection->OnReady()) {
        std::fprintf(stderr, "firstsip-h2load: %s\n", connection->error().c_str());
        return 1;
      }
    }
  }
  std::sort(shared.latencies_us.begin(), shared.latencies_us.end());
  double seconds = absl::GetFlag(FLAGS_seconds);
  std::printf("%lld\t%lld\t%.0f\t%.3f\t%.3f\t%.3f\t%lld\n", static_cast<long long>(shared.calls),
              static_cast<long long>(shared.errors), static_cast<double>(shared.calls) / seconds,
              Percentile(shared.latencies_us, 0.5), Percentile(shared.latencies_us, 0.99),
              Percentile(shared.latencies_us, 0.999), static_cast<long long>(shared.completed));
  return 0;
}
