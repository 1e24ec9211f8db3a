// `firstsip-server check-policy FILE [PRINCIPAL...]`: checks an authorization policy before it
// is deployed (the parser's message and exit code 2 when it does not parse), and shows what it
// gives each principal: every method the server serves, allowed or denied, and by which rule.
#pragma once

#include <string>
#include <vector>

namespace firstsip::app {

// `args` are FILE and the principals; a principal with "://" is taken as a certificate's URI
// SAN (a SPIFFE ID), anything else as a DNS SAN. Returns the process exit code: 0 when the
// policy parses, 2 when it does not (or no FILE was given).
int RunCheckPolicyCommand(const std::vector<std::string>& args);

}  // namespace firstsip::app
