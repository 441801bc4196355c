//! The syslog source's UDP socket options: the receive buffer size, and
//! the kernel's count of datagrams it dropped because that buffer was
//! full.
//!
//! UDP has no flow control, so those drops are the one loss this source
//! cannot prevent; it must not hide them. This module only reads socket
//! state; it does not read datagrams or count events (the source does).

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use nix::sys::socket::{getsockopt, setsockopt, sockopt};
use tokio::net::UdpSocket;
use tracing::warn;

/// Binds `address`; with `receive_buffer_bytes`, asks the kernel for a
/// receive buffer of that size and warns when it grants less.
pub(super) async fn bind(
    address: SocketAddr,
    receive_buffer_bytes: Option<usize>,
) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(address).await?;
    if let Some(wanted) = receive_buffer_bytes {
        set_receive_buffer(&socket, wanted)?;
    }
    Ok(socket)
}

/// Datagrams the kernel dropped on this socket since it was opened, or
/// `None` where the kernel does not say.
///
/// Read from `/proc/net/udp{,6}` (the row whose inode is the socket's):
/// unlike the `SO_RXQ_OVFL` control message, which rides only on datagrams
/// queued after a drop, it is current even while nothing arrives, and
/// unlike `SO_MEMINFO` its layout does not change with the kernel version.
pub(super) fn kernel_drops(socket: &UdpSocket) -> Option<u64> {
    let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
        .ok()?
        .ino();
    let table = if socket.local_addr().ok()?.is_ipv4() {
        "/proc/net/udp"
    } else {
        "/proc/net/udp6"
    };
    drops_of_inode(&std::fs::read_to_string(table).ok()?, inode)
}

/// The `drops` column of the row for `inode` in a `/proc/net/udp` table
/// (`sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer
/// drops`).
fn drops_of_inode(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let columns: Vec<&str> = row.split_ascii_whitespace().collect();
        if columns.get(9)?.parse::<u64>().ok()? != inode {
            return None;
        }
        columns.get(12)?.parse().ok()
    })
}

/// Sets `SO_RCVBUF`. Linux doubles the value asked for (for its own
/// bookkeeping) and caps it at `net.core.rmem_max`, so a grant below the
/// request means the cap was hit.
fn set_receive_buffer(socket: &UdpSocket, wanted: usize) -> io::Result<()> {
    setsockopt(socket, sockopt::RcvBuf, &wanted).map_err(io::Error::from)?;
    let granted = getsockopt(socket, sockopt::RcvBuf).map_err(io::Error::from)? / 2;
    if granted < wanted {
        warn!(
            message = "The kernel granted a smaller UDP receive buffer than receive_buffer_bytes asks for; raise net.core.rmem_max.",
            wanted, granted,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_drops_of_the_socket_by_inode() {
        let table = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
 1: 0100007F:14B6 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
 2: 0100007F:14B7 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 0\n";
        assert_eq!(drops_of_inode(table, 4242), Some(17));
        assert_eq!(drops_of_inode(table, 4343), Some(0));
        assert_eq!(drops_of_inode(table, 1), None);
        assert_eq!(drops_of_inode("header only\n", 4242), None);
    }

    #[tokio::test]
    async fn reads_the_drops_of_a_real_socket() {
        let socket = bind("127.0.0.1:0".parse().unwrap(), Some(4096))
            .await
            .unwrap();
        assert_eq!(kernel_drops(&socket), Some(0));
    }
}
