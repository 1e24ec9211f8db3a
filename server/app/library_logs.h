// Sends what protobuf and gRPC log through our logger, so every line the server writes has the
// same format (JSON by default) and goes to stdout with the rest.
#pragma once

namespace firstsip::app {

// Call once, early in main, before any gRPC or protobuf work starts: neither library makes
// changing its log sink thread-safe.
void RouteLibraryLogsToOurs();

}  // namespace firstsip::app
