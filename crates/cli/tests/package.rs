//! The Debian package (issue 13, item 5): `scripts/build-deb` packs the binary under
//! test, the package installs into a throw-away dpkg root, every file is where the unit
//! and the documentation say, and the unit passes `systemd-analyze verify`. Skipped (with
//! the reason printed) where dpkg-deb is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_package_builds_installs_and_its_unit_verifies() {
    if !have("dpkg-deb") || !have("dpkg") {
        eprintln!("skipping: dpkg-deb or dpkg is missing");
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let work = std::env::temp_dir().join(format!("opportune-package-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let _scratch = Scratch(work.clone());
    let out = Command::new(repo.join("scripts/build-deb"))
        .args(["--binary", env!("CARGO_BIN_EXE_opportune"), "--out"])
        .arg(work.join("out"))
        .output()
        .expect("run build-deb");
    assert!(out.status.success(), "build-deb: {}", String::from_utf8_lossy(&out.stderr));
    let deb = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string());
    assert!(deb.is_file(), "{deb:?}");

    // A throw-away dpkg database: nothing on this machine's own dpkg changes.
    let root = work.join("root");
    std::fs::create_dir_all(root.join("var/lib/dpkg/updates")).unwrap();
    std::fs::create_dir_all(root.join("var/lib/dpkg/info")).unwrap();
    std::fs::write(root.join("var/lib/dpkg/status"), b"").unwrap();
    let install = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--log=/dev/null", "--force-depends", "--force-not-root", "-i"])
        .arg(&deb)
        .output()
        .expect("dpkg -i");
    assert!(install.status.success(), "dpkg: {}{}", String::from_utf8_lossy(&install.stdout), String::from_utf8_lossy(&install.stderr));
    for file in [
        "usr/bin/opportune",
        "lib/systemd/system/opportune.service",
        "etc/opportune/opportune.toml",
        "usr/share/man/man1/opportune.1.gz",
        "usr/share/man/man1/opportune-serve.1.gz",
        "usr/share/man/man1/opportune-import-samba.1.gz",
        "usr/share/doc/opportune/copyright",
        "usr/share/doc/opportune/CONFIG.md",
    ] {
        assert!(root.join(file).is_file(), "{file} not installed");
    }
    let status = Command::new("dpkg").arg(format!("--root={}", root.display())).args(["-s", "opportune"]).output().unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("Status: install ok installed"));
    let conffiles = std::fs::read_to_string(root.join("var/lib/dpkg/info/opportune.conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/opportune/opportune.toml", "the configuration is a conffile");
    let version = Command::new(root.join("usr/bin/opportune")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("opportune "));

    // The default configuration is a valid one.
    let config = std::fs::read_to_string(root.join("etc/opportune/opportune.toml")).unwrap();
    let share = work.join("public");
    std::fs::create_dir_all(&share).unwrap();
    let local = work.join("opportune.toml");
    std::fs::write(&local, config.replace("/var/lib/opportune/public", &share.display().to_string())).unwrap();
    let check = Command::new(root.join("usr/bin/opportune")).args(["serve", "--check-config", "--config"]).arg(&local).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    // The unit as installed, with its binary where this root has it.
    if have("systemd-analyze") {
        let unit = std::fs::read_to_string(root.join("lib/systemd/system/opportune.service")).unwrap();
        let dir = work.join("unit");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("opportune.service");
        std::fs::write(&path, unit.replace("/usr/bin/opportune", &root.join("usr/bin/opportune").display().to_string())).unwrap();
        let v = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().unwrap();
        assert!(v.status.success(), "systemd-analyze verify: {}{}", String::from_utf8_lossy(&v.stdout), String::from_utf8_lossy(&v.stderr));
        assert!(v.stderr.is_empty(), "systemd-analyze verify warns: {}", String::from_utf8_lossy(&v.stderr));
    } else {
        eprintln!("systemd-analyze is missing: the unit was not verified");
    }
}
