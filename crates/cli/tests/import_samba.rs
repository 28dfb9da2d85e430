//! `opportune import-samba` on a representative smb.conf and `pdbedit -L -w` output
//! (tests/data/samba): the configuration it writes serves the same shares to the same
//! users with their old passwords, and every parameter it could not carry over is named.

mod support;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::client::*;


struct Scratch(PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Served(Child);
impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_samba_configuration_moves_over_with_its_users() {
    let root = std::env::temp_dir().join(format!("opportune-import-samba-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let _scratch = Scratch(root.clone());
    for d in ["docs", "public", "accounts"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("docs/plan.txt"), b"the plan").unwrap();
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/samba");
    let conf = std::fs::read_to_string(data.join("smb.conf")).unwrap().replace("SAMBA_ROOT", &root.display().to_string());
    std::fs::write(root.join("smb.conf"), conf).unwrap();
    let out_toml = root.join("opportune.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .arg("import-samba")
        .arg(root.join("smb.conf"))
        .arg("--smbpasswd")
        .arg(data.join("smbpasswd"))
        .arg("-o")
        .arg(&out_toml)
        .output()
        .expect("run import-samba");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{warnings}");
    for named in ["create mask", "[homes]", "[printers]", "server string", "server min protocol", "\"bob\" is disabled"] {
        assert!(warnings.contains(named), "no warning naming {named} in\n{warnings}");
    }
    assert!(!warnings.contains("kernel oplocks"), "kernel oplocks = no is what Opportune does: {warnings}");
    assert!(!warnings.contains("valid users") && !warnings.contains("hosts allow"), "access lists carry over: {warnings}");
    let written = std::fs::read_to_string(&out_toml).unwrap();
    assert!(written.contains("valid_users = [\n    \"alice\",\n    \"@staff\",\n]") || written.contains("valid_users = [\"alice\", \"@staff\"]"), "{written}");
    assert!(written.contains("10.0.0.0/8"), "{written}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out_toml).unwrap().permissions().mode() & 0o777, 0o600, "hashes are private");

    // Serve what was written, on a test port instead of 445.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_opportune"))
        .args(["serve", "--listen", &addr.to_string(), "--status-socket", &root.join("status.sock").display().to_string(), "--state-dir"])
        .arg(root.join("state"))
        .arg("--config")
        .arg(&out_toml)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve the imported configuration");
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let _served = Served(child);
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    assert!(first.contains("listening"), "{first:?}");
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "never accepted");
        std::thread::sleep(Duration::from_millis(20));
    }

    // alice logs on with her Samba password and reads and writes her share.
    let mut alice = Client::connect(addr, "alice", "secret", "docs");
    let (fid, _) = alice.create("plan.txt", GENERIC_ALL, OPLOCK_NONE).expect("alice opens plan.txt");
    assert_eq!(alice.read_data(fid, 0, 100).1, b"the plan");
    assert_eq!(alice.write(fid, 0, b"THE"), STATUS_SUCCESS);
    // "public" stayed read-only (Samba's default); "homes" and printers did not come over.
    alice.tree_connect("public");
    assert_eq!(alice.create("new.txt", GENERIC_ALL, OPLOCK_NONE).err(), Some(STATUS_ACCESS_DENIED));
    assert_eq!(alice.try_tree_connect("homes"), STATUS_BAD_NETWORK_NAME);
    // A disabled Samba account did not come over; with `map to guest = bad user` it is a
    // guest, which reaches only the guest share (others answer as unknown names).
    let mut bob = Client::connect(addr, "bob", "hunter2", "public");
    assert_eq!(bob.try_tree_connect("docs"), STATUS_BAD_NETWORK_NAME);
    // carol logs on with her own password; `valid users = alice @staff` keeps her out of docs.
    let mut carol = Client::try_login(addr, "carol", "hunter2").expect("carol logs on");
    assert_eq!(carol.try_tree_connect("docs"), STATUS_ACCESS_DENIED);
    // The share comments came over too: smbclient lists them.
    match Command::new("smbclient").args(["-L", "//127.0.0.1", "-p", &port.to_string(), "-U", "alice%secret"]).output() {
        Ok(out) => {
            let listing = String::from_utf8_lossy(&out.stdout);
            assert!(listing.lines().any(|l| l.contains("docs") && l.contains("Shared documents")), "{listing}");
        }
        Err(e) => eprintln!("smbclient not available ({e}): listing not checked"),
    }
}
