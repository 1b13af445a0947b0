// Raw BitTorrent wire messages that the node's plugins write themselves
// (peer_connection_handle::send_buffer): the pointer push's BEP 10 messages
// (push.cpp) and a seed's BEP 6 rejects and suggests (fresh_pieces.cpp).
#pragma once

#include <cstdint>
#include <string>

namespace hostless::wire {

// Keep-alives (4 zero bytes each) written after a message of our own.
// libtorrent 2.0's send_buffer starts a write only when the bytes do not fit
// in the free space of the last queued buffer; when they fit they wait for
// the next message (seen: pushes arriving 5 s late). That free space is under
// 150 bytes (buffers are allocated to size, 128 at least), so 128 bytes of
// keep-alives after the message always overflow it and start the write.
constexpr std::size_t kFlushPadding = 128;

inline void append_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xff);
}

inline void append_flush_padding(std::string& out) {
  out.append(kFlushPadding, '\0');
}

}  // namespace hostless::wire
