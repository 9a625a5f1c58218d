//! Builds `tests/c/driver.c` against `sys/wg_core.h`, links it with the
//! core's staticlib (`libwg_ffi.a`, exactly what the kernel shim links) and
//! runs it: two devices, a handshake and data both ways through the C ABI
//! only. The configurations it loads are FreeBSD SIOCSWG nvlists from the
//! core's own codec.

use std::path::{Path, PathBuf};
use std::process::Command;
use wg_core::allowedips::IpPrefix;
use wg_core::config::{AllowedIpChange, DeviceUpdate, PeerUpdate};
use wg_core::{crypto, Endpoint};

fn key(seed: u8) -> [u8; 32] {
    let mut k = [seed; 32];
    crypto::clamp_private_key(&mut k);
    k
}

fn config(own: u8, peer: u8, peer_port: u16, peer_ip: [u8; 4]) -> Vec<u8> {
    let update = DeviceUpdate {
        private_key: Some(Some(key(own))),
        listen_port: Some(51819 + own as u16),
        peers: vec![PeerUpdate {
            public_key: crypto::public_key(&key(peer)),
            preshared_key: Some(Some([7; 32])),
            endpoint: Some(Endpoint::V4 {
                addr: [192, 0, 2, peer],
                port: peer_port,
            }),
            allowed_ips: vec![AllowedIpChange {
                prefix: IpPrefix::new_v4(peer_ip, 32).unwrap(),
                remove: false,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    wg_core::nvconfig::encode_set(&update).unwrap()
}

/// The staticlib cargo built for this test run: it sits beside the test
/// executable as `deps/libwg_ffi-<hash>.a`; the newest one is this build's.
fn staticlib() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    std::fs::read_dir(deps)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("libwg_ffi-") && n.ends_with(".a")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

#[test]
fn c_driver_runs_a_tunnel_through_the_c_abi() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let staticlib = staticlib().expect("cargo builds libwg_ffi-*.a with the library");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_driver");
    std::fs::create_dir_all(&out).unwrap();
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let mut build = cc::Build::new();
    build
        .file(manifest.join("tests/c/driver.c"))
        .include(manifest.join("../../sys"))
        .std("c11")
        .define("_GNU_SOURCE", None)
        .flag("-Wall")
        .flag("-Wextra")
        .flag("-Werror")
        .opt_level(0)
        .target(&target)
        .host(&target)
        .out_dir(&out)
        .cargo_metadata(false)
        .warnings_into_errors(true);
    let objects = build.compile_intermediates();
    let exe = out.join("driver");
    let mut link = build.get_compiler().to_command();
    link.args(&objects)
        .arg(&staticlib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&exe);
    let status = link.status().unwrap();
    assert!(status.success(), "linking the C driver failed");

    let a = out.join("a.nvl");
    let b = out.join("b.nvl");
    std::fs::write(&a, config(1, 2, 51821, [10, 0, 0, 2])).unwrap();
    std::fs::write(&b, config(2, 1, 51820, [10, 0, 0, 1])).unwrap();
    let run = Command::new(&exe).arg(&a).arg(&b).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success() && stdout.contains("c driver: ok"),
        "driver failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        run.status
    );
}
