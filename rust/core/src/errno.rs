//! errno numbers, in one table for the whole core.
//!
//! [`crate::Error::errno`] answers the kernel's callers, so the numbers
//! whose value differs between systems are FreeBSD's here. The UAPI codec
//! answers wg(8) on whatever system the daemon runs, and takes the few that
//! differ from [`host`].

// The same on every Unix.
pub const EPERM: i32 = 1;
pub const ENOENT: i32 = 2;
pub const EIO: i32 = 5;
pub const E2BIG: i32 = 7;
pub const ENOMEM: i32 = 12;
pub const EEXIST: i32 = 17;
pub const EINVAL: i32 = 22;
pub const ENOSPC: i32 = 28;

// FreeBSD's values (sys/sys/errno.h).
pub const EDESTADDRREQ: i32 = 39;
pub const EMSGSIZE: i32 = 40;
pub const ENOBUFS: i32 = 55;
pub const EHOSTUNREACH: i32 = 65;
pub const EAUTH: i32 = 80;
/// Linux's is 74.
pub const EBADMSG: i32 = 89;

/// wireguard-go's `IpcErrorUnknown`: a literal 55 (Linux's ENOANO) on
/// every system.
pub const IPC_UNKNOWN: i32 = 55;

/// The values wireguard-go's `ipc` package takes from
/// `golang.org/x/sys/unix` on the system it runs on, where they differ.
#[cfg(feature = "uapi")]
pub mod host {
    #[cfg(any(target_os = "freebsd", target_os = "dragonfly"))]
    mod os {
        pub const EPROTO: i32 = 92;
        pub const EADDRINUSE: i32 = 48;
    }
    #[cfg(any(target_os = "macos", target_os = "ios"))]
    mod os {
        pub const EPROTO: i32 = 100;
        pub const EADDRINUSE: i32 = 48;
    }
    #[cfg(target_os = "openbsd")]
    mod os {
        pub const EPROTO: i32 = 95;
        pub const EADDRINUSE: i32 = 48;
    }
    #[cfg(target_os = "netbsd")]
    mod os {
        pub const EPROTO: i32 = 96;
        pub const EADDRINUSE: i32 = 48;
    }
    // Linux, and what wireguard-go's uapi_windows.go hard-codes.
    #[cfg(not(any(
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "macos",
        target_os = "ios",
        target_os = "openbsd",
        target_os = "netbsd"
    )))]
    mod os {
        pub const EPROTO: i32 = 71;
        pub const EADDRINUSE: i32 = 98;
    }
    pub use os::*;
}
