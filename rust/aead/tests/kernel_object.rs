//! The kernel build and the std build give identical bytes: the vector
//! object that if_wg.ko links (kbuild/build-kernel-lib.sh's
//! target/kernel/x86_64-ifwg-kernel-simd/release/libwg_aead.a, built for
//! the hard-float kernel target) is linked into a small C program
//! (tests/c/kobj.c, -no-pie) and seals the same inputs as this build of
//! wg-aead and as ring, whole and split. Skipped, saying so, when the
//! kernel object has not been built (`make kernel-lib`); `make
//! check-freebsd` builds it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "-".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn kernel_object_seals_as_the_std_build_and_ring() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.join("../..");
    let lib = std::env::var_os("WG_KERNEL_AEAD_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/kernel/x86_64-ifwg-kernel-simd/release/libwg_aead.a"));
    if !lib.exists() || !cfg!(target_arch = "x86_64") || !wg_aead_has_avx2() {
        eprintln!(
            "SKIP: no kernel object at {} (make kernel-lib), or no AVX2",
            lib.display()
        );
        return;
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kobj");
    let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-O1", "-no-pie", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(manifest.join("tests/c/kobj.c"))
        .arg(&lib)
        .status()
        .expect("cc runs");
    assert!(st.success(), "linking the kernel object failed");

    let mut input = String::new();
    let mut expect = Vec::new();
    for len in (0..1500usize).step_by(7).chain([1420, 2047, 4096]) {
        let key: [u8; 32] = pattern(32, len as u64).try_into().unwrap();
        let nonce: [u8; 12] = pattern(12, !(len as u64)).try_into().unwrap();
        let aad = pattern(len % 41, len as u64 + 3);
        let pt = pattern(len, len as u64 + 9);
        let cut = len * 5 / 7;
        input += &format!(
            "{} {} {} {} {}\n",
            hex(&key),
            hex(&nonce),
            hex(&aad),
            hex(&pt),
            cut
        );
        let mut ct = pt.clone();
        let (a, b) = ct.split_at_mut(cut);
        let tag = wg_aead::seal(&key, &nonce, &aad, &mut [a, b]);
        let mut r = pt.clone();
        let k = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, &key).unwrap(),
        );
        let rt = k
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&aad[..]),
                &mut r,
            )
            .unwrap();
        assert_eq!(
            (&ct, &tag[..]),
            (&r, rt.as_ref()),
            "std build vs ring, len {len}"
        );
        let plain_hex: String = ct.iter().map(|x| format!("{x:02x}")).collect();
        expect.push(format!("{} {}", plain_hex, hex(&tag)));
    }
    let mut child = Command::new(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from another thread: the program answers line by line, and
    // its output would fill the pipe while this one still writes.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let got = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(got.status.success(), "kobj failed: {:?}", got.status);
    let got = String::from_utf8(got.stdout).unwrap();
    let got: Vec<&str> = got.lines().collect();
    assert_eq!(got.len(), expect.len());
    for (i, (g, e)) in got.iter().zip(&expect).enumerate() {
        assert_eq!(g, e, "kernel object vs std build, case {i}");
    }
}

/// The kernel object is AVX2 code: it can run here only on such a CPU.
fn wg_aead_has_avx2() -> bool {
    wg_aead::cpu_has_avx2()
}
