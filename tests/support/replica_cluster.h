// A primary and a streaming hot standby of a test's own (tests/support/replica-cluster.sh), on
// ports derived from the test's pid, removed when the object goes.
#pragma once

#include <string>

namespace firstsip::testing {

class ReplicaCluster {
 public:
  // `synchronous`: a commit is acknowledged only once the standby has it.
  explicit ReplicaCluster(bool synchronous);
  ~ReplicaCluster();
  ReplicaCluster(const ReplicaCluster&) = delete;
  ReplicaCluster& operator=(const ReplicaCluster&) = delete;

  bool started() const { return started_; }
  bool KillPrimary() { return Run("kill-primary " + dir_); }
  bool Promote() { return Run("promote " + dir_); }
  bool StopStandby() { return Run("stop-standby " + dir_); }
  // Pauses or resumes WAL replay on the standby (pg_wal_replay_pause/resume): it falls behind
  // while the primary goes on.
  bool SetStandbyReplay(bool replaying) const;

  std::string PrimaryDsn() const { return Dsn(primary_port_); }
  std::string StandbyDsn() const { return Dsn(standby_port_); }
  int primary_port() const { return primary_port_; }
  int standby_port() const { return standby_port_; }
  // Both hosts; libpq keeps to the one that accepts writes.
  std::string FailoverDsn() const;

 private:
  static std::string Dsn(int port);
  bool Run(const std::string& args) const;

  std::string dir_;
  int primary_port_;
  int standby_port_;
  bool started_ = false;
};

}  // namespace firstsip::testing
