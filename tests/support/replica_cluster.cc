#include "support/replica_cluster.h"

#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "db/blocking_connection.h"

namespace firstsip::testing {

ReplicaCluster::ReplicaCluster(bool synchronous)
    : dir_("/tmp/firstsip-replicas-" + std::to_string(getpid())),
      primary_port_(20000 + (getpid() % 5000) * 2),
      standby_port_(primary_port_ + 1) {
  std::system(("rm -rf " + dir_).c_str());
  started_ = Run(absl::StrCat("start ", dir_, " ", primary_port_, " ", standby_port_,
                              synchronous ? " sync" : ""));
}

ReplicaCluster::~ReplicaCluster() {
  Run("stop " + dir_);
  std::system(("rm -rf " + dir_).c_str());
}

bool ReplicaCluster::Run(const std::string& args) const {
  std::string script = std::string(FIRSTSIP_SOURCE_DIR) + "/tests/support/replica-cluster.sh";
  return std::system((script + " " + args).c_str()) == 0;
}

bool ReplicaCluster::SetStandbyReplay(bool replaying) const {
  auto connection = db::BlockingConnection::Open(StandbyDsn());
  if (!connection.ok()) return false;
  return (*connection)
      ->Exec(replaying ? "SELECT pg_wal_replay_resume()" : "SELECT pg_wal_replay_pause()")
      .ok();
}

std::string ReplicaCluster::FailoverDsn() const {
  return absl::StrCat("host=127.0.0.1,127.0.0.1 port=", primary_port_, ",", standby_port_,
                      " user=postgres dbname=postgres target_session_attrs=read-write");
}

std::string ReplicaCluster::Dsn(int port) {
  return absl::StrCat("host=127.0.0.1 port=", port, " user=postgres dbname=postgres");
}

}  // namespace firstsip::testing
