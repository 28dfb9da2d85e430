//! Parity of the two backends: each scenario runs the same calls on a POSIX share (a
//! temporary directory) and on the in-memory double, records what each call answered,
//! and both records must equal the expected one (MS-FSA 2.1.5 as `Share` and `Handle`
//! document it).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use opportune_fs::{BasicInfo, CreateParams, Ea, FsError, Handle, MemoryFs, MemoryOptions, Opened, Share, SmbPath};
use opportune_types::create::CreateDisposition::{self, *};
use opportune_types::FileAttributes;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("opportune-parity-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `scenario` on both backends; each must answer `expected`.
fn check(tag: &str, case_sensitive: bool, expected: &[&str], scenario: impl Fn(&Share) -> Vec<String>) {
    let t = TempDir::new(tag);
    let posix = Share::new(&t.0, case_sensitive).unwrap();
    let memory = Share::in_memory(MemoryFs::new(MemoryOptions { case_sensitive, ..MemoryOptions::default() }));
    let on_posix = scenario(&posix);
    let on_memory = scenario(&memory);
    assert_eq!(on_posix, expected, "{tag}: the POSIX backend");
    assert_eq!(on_memory, expected, "{tag}: the memory backend");
}

fn p(s: &str) -> SmbPath {
    SmbPath::parse(s).unwrap()
}

fn params(disposition: CreateDisposition, directory: Option<bool>) -> CreateParams {
    CreateParams { disposition, directory, write: true, attributes: 0, allocation_size: 0, metadata_only: false }
}

fn create(s: &Share, path: &str, d: CreateDisposition, dir: Option<bool>) -> Result<Opened, FsError> {
    s.create(&p(path), &params(d, dir))
}

fn file(s: &Share, path: &str, data: &[u8]) -> Handle {
    let h = create(s, path, OverwriteIf, Some(false)).unwrap().handle;
    h.write_at(data, 0).unwrap();
    h
}

fn dir(s: &Share, path: &str) -> Handle {
    create(s, path, Create, Some(true)).unwrap().handle
}

/// An outcome as a word: "ok", or the error's variant.
fn out<T>(r: Result<T, FsError>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(FsError::Io(e)) => format!("Io({:?})", e.raw_os_error()),
        Err(e) => format!("{e:?}"),
    }
}

/// A create's outcome: its action, or the error.
fn act(r: Result<Opened, FsError>) -> String {
    match r {
        Ok(o) => format!("{:?}", o.action),
        Err(e) => out::<()>(Err(e)),
    }
}

fn read_all(h: &Handle) -> String {
    let mut buf = vec![0u8; 256];
    let n = h.read_at(&mut buf, 0).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn ea(name: &str, value: &[u8]) -> Ea {
    Ea { flags: 0, name: name.into(), value: value.to_vec() }
}

const ALL: [CreateDisposition; 6] = [Open, Create, OpenIf, Overwrite, OverwriteIf, Supersede];

#[test]
fn dispositions_on_a_missing_file() {
    check("missing", false, &["NotFound", "Created", "Created", "NotFound", "Created", "Created"], |s| {
        ALL.iter().enumerate().map(|(i, &d)| act(create(s, &format!("m{i}"), d, None))).collect()
    });
}

#[test]
fn dispositions_on_an_existing_file() {
    check("existing", false, &["Opened", "Exists", "Opened", "Overwritten", "Overwritten", "Superseded", "size 0"], |s| {
        drop(file(s, "f", b"data"));
        let mut v: Vec<String> = ALL.iter().map(|&d| act(create(s, "f", d, None))).collect();
        v.push(format!("size {}", s.stat("f").unwrap().size));
        v
    });
}

#[test]
fn dispositions_on_an_existing_directory() {
    let e = ["Opened", "Exists", "Opened", "InvalidParameter", "InvalidParameter", "InvalidParameter"];
    check("existing-dir", false, &e, |s| {
        drop(dir(s, "d"));
        ALL.iter().map(|&d| act(create(s, "d", d, None))).collect()
    });
}

#[test]
fn directory_options_are_checked() {
    let e = ["NotADirectory", "IsADirectory", "InvalidParameter", "Created", "Opened", "IsADirectory"];
    check("dir-options", false, &e, |s| {
        drop(file(s, "f", b""));
        drop(dir(s, "d"));
        let mut temp = params(Create, Some(true));
        temp.attributes = FileAttributes::TEMPORARY;
        vec![
            act(create(s, "f", Open, Some(true))),
            act(create(s, "d", Open, Some(false))),
            act(s.create(&p("t"), &temp)),
            act(create(s, "new", OpenIf, Some(true))),
            act(create(s, "new", Open, Some(true))),
            act(create(s, "d::$DATA", Open, None)),
        ]
    });
}

#[test]
fn a_missing_parent_is_path_not_found() {
    check("parent", false, &["PathNotFound", "PathNotFound", "PathNotFound", "Created"], |s| {
        drop(file(s, "f", b""));
        drop(dir(s, "d"));
        vec![
            act(create(s, "nope\\x", OpenIf, None)),
            act(create(s, "nope\\x", Open, None)),
            act(create(s, "f\\x", OpenIf, None)),
            act(create(s, "d\\x", OpenIf, None)),
        ]
    });
}

#[test]
fn names_match_ignoring_case_on_an_insensitive_share() {
    check("ci", false, &["Opened", "Report.TXT", "Exists", "d/Report.TXT"], |s| {
        drop(dir(s, "D"));
        drop(create(s, "Report.TXT", Create, None).unwrap());
        drop(create(s, "D\\Report.TXT", Create, None).unwrap());
        let o = create(s, "report.txt", Open, None).unwrap();
        let nested = create(s, "d\\REPORT.txt", Open, None).unwrap().rel_path;
        vec![format!("{:?}", o.action), o.rel_path.clone(), act(create(s, "REPORT.txt", Create, None)), nested.replace("D/", "d/")]
    });
}

#[test]
fn names_are_exact_on_a_sensitive_share() {
    check("cs", true, &["NotFound", "Created", "2 entries"], |s| {
        drop(create(s, "Report.TXT", Create, None).unwrap());
        let v0 = act(create(s, "report.txt", Open, None));
        let v1 = act(create(s, "REPORT.txt", Create, None));
        let root = create(s, "", Open, None).unwrap().handle;
        vec![v0, v1, format!("{} entries", root.read_dir().unwrap().len())]
    });
}

#[test]
fn overwriting_hidden_without_hidden_is_access_denied() {
    check("hidden", false, &["AccessDenied", "Overwritten"], |s| {
        let mut hp = params(Create, None);
        hp.attributes = FileAttributes::HIDDEN;
        drop(s.create(&p("h"), &hp).unwrap());
        let mut again = params(Overwrite, None);
        let denied = act(s.create(&p("h"), &again));
        again.attributes = FileAttributes::HIDDEN;
        vec![denied, act(s.create(&p("h"), &again))]
    });
}

#[test]
fn new_objects_get_the_asked_attributes() {
    let (f, d) = (FileAttributes::HIDDEN | FileAttributes::ARCHIVE, FileAttributes::HIDDEN | FileAttributes::DIRECTORY);
    let e = [format!("{f:#x}"), format!("{d:#x}"), format!("{:#x}", FileAttributes::ARCHIVE)];
    let e: Vec<&str> = e.iter().map(String::as_str).collect();
    check("attrs", false, &e, |s| {
        let mut fp = params(Create, Some(false));
        fp.attributes = FileAttributes::HIDDEN;
        let fi = s.create(&p("f"), &fp).unwrap().info().unwrap();
        let mut dp = params(Create, Some(true));
        dp.attributes = FileAttributes::HIDDEN;
        let di = s.create(&p("d"), &dp).unwrap().info().unwrap();
        let plain = create(s, "g", Create, None).unwrap().info().unwrap();
        vec![format!("{:#x}", fi.attributes), format!("{:#x}", di.attributes), format!("{:#x}", plain.attributes)]
    });
}

#[test]
fn positional_reads_and_writes() {
    let e = ["hello World", "0", "DiskFull", "size 5", "hello", "InvalidParameter"];
    check("io", false, &e, |s| {
        let h = file(s, "f", b"hello world");
        h.write_at(b"W", 6).unwrap();
        let mut buf = [0u8; 8];
        let v = vec![
            read_all(&h),
            h.read_at(&mut buf, 100).unwrap().to_string(),
            out(h.write_at(b"x", u64::MAX)),
            {
                h.set_len(5).unwrap();
                format!("size {}", h.info().unwrap().size)
            },
            read_all(&h),
            out(h.set_len(u64::MAX)),
        ];
        v
    });
}

#[test]
fn a_write_past_the_end_fills_with_zeros() {
    check("zeros", false, &["size 6", "[0, 0, 0, 0, 97, 98]", "size 2", "size 4096"], |s| {
        let h = file(s, "f", b"");
        h.write_at(b"ab", 4).unwrap();
        let mut buf = [9u8; 6];
        h.read_at(&mut buf, 0).unwrap();
        let v0 = format!("size {}", h.info().unwrap().size);
        h.set_len(2).unwrap();
        let v2 = format!("size {}", h.info().unwrap().size);
        h.set_len(4096).unwrap();
        vec![v0, format!("{buf:?}"), v2, format!("size {}", s.stat("f").unwrap().size)]
    });
}

#[test]
fn a_directory_has_no_data_and_a_file_no_entries() {
    check("dir-io", false, &["IsADirectory", "IsADirectory", "IsADirectory", "NotADirectory", "ok"], |s| {
        let d = dir(s, "d");
        let f = file(s, "f", b"x");
        let mut buf = [0u8; 1];
        vec![out(d.read_at(&mut buf, 0)), out(d.write_at(b"x", 0)), out(d.set_len(1)), out(f.read_dir()), out(d.sync())]
    });
}

#[test]
fn rename_moves_and_keeps_the_data_and_id() {
    check("rename", false, &["d/b", "NotFound", "moved", "same id"], |s| {
        drop(dir(s, "d"));
        let id = {
            let h = file(s, "a", b"moved");
            h.info().unwrap().file_id
        };
        let rel = s.rename("a", &p("d\\b"), false).unwrap();
        let h = create(s, "d\\b", Open, None).unwrap().handle;
        let same = if h.info().unwrap().file_id == id { "same id" } else { "other id" };
        vec![rel, out(s.stat("a")), read_all(&h), same.into()]
    });
}

#[test]
fn rename_onto_an_existing_file_needs_replace() {
    check("replace", false, &["Exists", "ok", "new", "replaced 1 link", "NotFound"], |s| {
        drop(file(s, "src", b"new"));
        drop(file(s, "dst", b"old"));
        let refused = out(s.rename("src", &p("dst"), false));
        let (rel, replaced) = s.rename_replacing("src", &p("dst"), true).unwrap();
        let h = create(s, &rel, Open, None).unwrap().handle;
        vec![refused, "ok".into(), read_all(&h), format!("replaced {} link", replaced.unwrap().2), out(s.stat("src"))]
    });
}

#[test]
fn rename_never_replaces_a_directory() {
    check("replace-dir", false, &["AccessDenied", "Exists"], |s| {
        drop(file(s, "f", b""));
        drop(dir(s, "d"));
        vec![out(s.rename("f", &p("d"), true)), out(s.rename("f", &p("d"), false))]
    });
}

#[test]
fn rename_to_another_case_respells() {
    check("respell", false, &["A.TXT", "A.TXT"], |s| {
        drop(file(s, "a.txt", b""));
        let rel = s.rename("a.txt", &p("A.TXT"), false).unwrap();
        let root = create(s, "", Open, None).unwrap().handle;
        let names: Vec<String> = root.read_dir().unwrap().into_iter().map(|e| e.name).collect();
        vec![rel, names.join(",")]
    });
}

#[test]
fn rename_errors() {
    let e = ["InvalidParameter", "NotFound", "AccessDenied", "PathNotFound", "InvalidParameter"];
    check("rename-errors", false, &e, |s| {
        drop(dir(s, "d"));
        drop(file(s, "f", b""));
        vec![
            out(s.rename("d", &p("d\\sub"), false)),
            out(s.rename("missing", &p("x"), false)),
            out(s.rename("", &p("x"), false)),
            out(s.rename("f", &p("nodir\\x"), false)),
            out(s.rename("f:s", &p("g"), false)),
        ]
    });
}

#[test]
fn remove_rules() {
    let e = ["false", "NotEmpty", "NotADirectory", "IsADirectory", "ok", "true", "ok", "AccessDenied", "NotFound"];
    check("remove", false, &e, |s| {
        drop(dir(s, "d"));
        drop(file(s, "d\\f", b"abc"));
        vec![
            s.is_dir_empty("d").unwrap().to_string(),
            out(s.remove("d", true)),
            out(s.remove("d/f", true)),
            out(s.remove("d", false)),
            out(s.remove("d/f", false)),
            s.is_dir_empty("d").unwrap().to_string(),
            out(s.remove("d", true)),
            out(s.remove("", true)),
            out(s.stat("d")),
        ]
    });
}

#[test]
fn a_deleted_file_stays_readable_through_its_handle() {
    check("deleted-open", false, &["still here", "NotFound", "None", "0 links", "more"], |s| {
        let h = file(s, "f", b"still here");
        s.remove("f", false).unwrap();
        let v = vec![read_all(&h), out(s.stat("f")), format!("{:?}", h.current_rel_path().unwrap()), format!("{} links", h.info().unwrap().nlink)];
        h.write_at(b"more", 0).unwrap();
        let mut buf = [0u8; 4];
        h.read_at(&mut buf, 0).unwrap();
        [v, vec![String::from_utf8_lossy(&buf).into_owned()]].concat()
    });
}

#[test]
fn listing_gives_names_and_info() {
    check("listing", false, &["B:file:2", "a:file:1", "c:dir:0", "c/sub", "Some(1)", "None"], |s| {
        drop(file(s, "a", b"1"));
        drop(file(s, "B", b"22"));
        drop(dir(s, "c"));
        drop(dir(s, "c\\sub"));
        let root = create(s, "", Open, None).unwrap().handle;
        let mut v: Vec<String> = root
            .read_dir()
            .unwrap()
            .into_iter()
            .map(|e| format!("{}:{}:{}", e.name, if e.info.is_dir { "dir" } else { "file" }, e.info.size))
            .collect();
        v.sort();
        v.push(s.subdirectories("c", 10).unwrap().join(","));
        v.push(format!("{:?}", root.dir_entry("a").unwrap().map(|e| e.info.size)));
        v.push(format!("{:?}", root.dir_entry("zz").unwrap().map(|e| e.info.size)));
        v
    });
}

#[test]
fn named_streams_round_trip() {
    let e = ["Created", "Created", "S2:0,s1:3", "one", "3", "ok", "S2:0", "NotFound", "file size 0"];
    check("streams", false, &e, |s| {
        let a = create(s, "f:s1", Create, None).unwrap();
        a.handle.write_at(b"one", 0).unwrap();
        let b = create(s, "f:S2:$DATA", Create, None).unwrap();
        let list = |h: &Handle| h.streams().unwrap().into_iter().map(|(n, size, _)| format!("{n}:{size}")).collect::<Vec<_>>().join(",");
        let again = create(s, "F:S1", Open, None).unwrap().handle;
        vec![
            format!("{:?}", a.action),
            format!("{:?}", b.action),
            list(&a.handle),
            read_all(&again),
            s.stat("f:s1").unwrap().size.to_string(),
            out(s.remove("f:s1", false)),
            list(&b.handle),
            out(s.stat("f:s1")),
            format!("file size {}", s.stat("f").unwrap().size),
        ]
    });
}

#[test]
fn stream_dispositions() {
    let e = ["NotFound", "Created", "Exists", "Overwritten", "NotADirectory", "Opened"];
    check("stream-disp", false, &e, |s| {
        let v = vec![act(create(s, "g:x", Open, None)), act(create(s, "g:x", Create, None)), act(create(s, "g:x", Create, None))];
        let h = create(s, "g:x", Open, None).unwrap().handle;
        h.write_at(b"abc", 0).unwrap();
        drop(h);
        drop(dir(s, "d"));
        [v, vec![act(create(s, "g:x", Overwrite, None)), act(create(s, "g:y", OpenIf, Some(true))), act(create(s, "d:z", OpenIf, None)).replace("Created", "Opened")]].concat()
    });
}

#[test]
fn overwrite_drops_the_named_streams() {
    check("overwrite-streams", false, &["1", "0"], |s| {
        drop(create(s, "f:s", Create, None).unwrap());
        let n = create(s, "f", Open, None).unwrap().handle.streams().unwrap().len().to_string();
        let h = create(s, "f", Overwrite, None).unwrap().handle;
        vec![n, h.streams().unwrap().len().to_string()]
    });
}

#[test]
fn eas_round_trip() {
    let e = ["a=1,B=2", "B=2,A=3", "A=3", "InvalidEaName", "A=3"];
    check("eas", false, &e, |s| {
        let h = file(s, "f", b"");
        let show = |v: Vec<Ea>| v.iter().map(|e| format!("{}={}", e.name, String::from_utf8_lossy(&e.value))).collect::<Vec<_>>().join(",");
        h.set_eas(&[ea("a", b"1"), ea("B", b"2")]).unwrap();
        let v0 = show(h.eas().unwrap());
        h.set_eas(&[ea("A", b"3")]).unwrap();
        let v1 = show(h.eas().unwrap());
        h.set_eas(&[ea("b", b"")]).unwrap();
        vec![v0, v1, show(s.eas_at("f").unwrap()), out(h.set_eas(&[ea("bad*name", b"x")])), show(h.eas().unwrap())]
    });
}

#[test]
fn security_descriptors_round_trip() {
    check("sd", false, &["None", "Some([1, 0, 4, 128])", "Some([1, 0, 4, 128])"], |s| {
        let h = dir(s, "d");
        let before = format!("{:?}", h.security_descriptor().unwrap());
        h.set_security_descriptor(&[1, 0, 4, 128]).unwrap();
        vec![before, format!("{:?}", h.security_descriptor().unwrap()), format!("{:?}", s.security_descriptor_at("d").unwrap())]
    });
}

#[test]
fn basic_information_round_trips() {
    let (ct, at, wt) = (130_000_000_000_000_000u64, 131_000_000_000_000_100u64, 132_000_000_000_001_200u64);
    let attrs = FileAttributes::HIDDEN | FileAttributes::SYSTEM;
    let all = format!("{ct} {at} {wt} {attrs:#x}");
    let e = [all.as_str(), all.as_str(), "0x0", "InvalidParameter", "InvalidParameter"];
    check("basic", false, &e, move |s| {
        let h = file(s, "f", b"");
        h.set_basic(&BasicInfo { creation_time: Some(ct), last_access_time: Some(at), last_write_time: Some(wt), change_time: None, attributes: Some(attrs) }).unwrap();
        let show = |i: opportune_fs::FileInfo| format!("{} {} {} {:#x}", i.creation_time, i.last_access_time, i.last_write_time, i.attributes);
        let v0 = show(h.info().unwrap());
        // 0 and -1 leave everything as it is.
        h.set_basic(&BasicInfo { creation_time: Some(u64::MAX), last_write_time: Some(0), attributes: Some(0), ..Default::default() }).unwrap();
        let v1 = show(s.stat("f").unwrap());
        h.set_basic(&BasicInfo { attributes: Some(FileAttributes::NORMAL), ..Default::default() }).unwrap();
        let d = dir(s, "d");
        vec![
            v0,
            v1,
            format!("{:#x}", h.info().unwrap().attributes),
            out(h.set_basic(&BasicInfo { attributes: Some(FileAttributes::DIRECTORY), ..Default::default() })),
            out(d.set_basic(&BasicInfo { attributes: Some(FileAttributes::TEMPORARY), ..Default::default() })),
        ]
    });
}

#[test]
fn a_set_change_time_stays_until_the_data_changes() {
    let ct = 130_000_000_000_000_000u64;
    check("ctime", false, &["kept", "kept", "changed"], move |s| {
        let h = file(s, "f", b"");
        h.set_basic(&BasicInfo { change_time: Some(ct), ..Default::default() }).unwrap();
        let k = |i: u64| if i == ct { "kept".to_string() } else { "changed".to_string() };
        let v0 = k(h.info().unwrap().change_time);
        h.set_basic(&BasicInfo { attributes: Some(FileAttributes::HIDDEN), ..Default::default() }).unwrap();
        let v1 = k(s.stat("f").unwrap().change_time);
        h.write_at(b"data", 0).unwrap();
        vec![v0, v1, k(h.info().unwrap().change_time)]
    });
}

#[test]
fn allocation_truncates_below_the_end_and_reserves_above() {
    check("alloc", false, &["size 4", "size 4, reserved", "size 4, released"], |s| {
        let h = file(s, "f", b"0123456789");
        h.set_allocation(4).unwrap();
        let v0 = format!("size {}", h.info().unwrap().size);
        h.set_allocation(1 << 20).unwrap();
        let i = h.info().unwrap();
        let v1 = format!("size {}, {}", i.size, if i.allocation_size >= 1 << 20 { "reserved" } else { "not reserved" });
        h.set_allocation(4).unwrap();
        let i = h.info().unwrap();
        vec![v0, v1, format!("size {}, {}", i.size, if i.allocation_size < 1 << 20 { "released" } else { "held" })]
    });
}

#[test]
fn hard_links_share_the_file() {
    let e = ["g", "2 links", "same id", "Exists", "IsADirectory", "linked"];
    check("links", false, &e, |s| {
        let h = file(s, "f", b"linked");
        let d = dir(s, "d");
        let l = h.link(&p("g"), false, |_| false).unwrap();
        let g = create(s, "g", Open, None).unwrap().handle;
        let same = if g.info().unwrap().file_id == h.info().unwrap().file_id { "same id" } else { "other id" };
        vec![
            l.rel,
            format!("{} links", h.info().unwrap().nlink),
            same.into(),
            out(h.link(&p("G"), false, |_| false)),
            out(d.link(&p("x"), false, |_| false)),
            read_all(&g),
        ]
    });
}

#[test]
fn file_ids_are_unique_and_stable() {
    check("ids", false, &["distinct", "stable", "stable after rename"], |s| {
        let a = file(s, "a", b"").info().unwrap().file_id;
        let b = file(s, "b", b"").info().unwrap().file_id;
        let root = s.stat("").unwrap().file_id;
        let again = create(s, "a", Open, None).unwrap().handle.info().unwrap().file_id;
        s.rename("a", &p("c"), false).unwrap();
        let moved = s.stat("c").unwrap().file_id;
        vec![
            if a != b && a != root && b != root { "distinct" } else { "same" }.into(),
            if again == a { "stable" } else { "changed" }.into(),
            if moved == a { "stable after rename" } else { "changed" }.into(),
        ]
    });
}

#[test]
fn a_stream_is_renamed_within_its_file() {
    let e = ["f:b", "abc", "NotFound", "Exists", "f", "abc"];
    check("stream-rename", false, &e, |s| {
        drop(file(s, "f", b""));
        let h = create(s, "f:a", Create, None).unwrap().handle;
        h.write_at(b"abc", 0).unwrap();
        let rel = h.rename_stream(Some("b"), false).unwrap();
        let b = create(s, "f:b", Open, None).unwrap().handle;
        let v = vec![rel, read_all(&b), out(s.stat("f:a")), out(h.rename_stream(None, false))];
        drop(b);
        let rel = h.rename_stream(None, true).unwrap();
        let f = create(s, "f", Open, None).unwrap().handle;
        [v, vec![rel, read_all(&f)]].concat()
    });
}

#[test]
fn remove_open_follows_a_rename() {
    check("remove-open", false, &["Some(\"d/moved\")", "NotFound", "NotFound"], |s| {
        drop(dir(s, "d"));
        let h = file(s, "f", b"x");
        let rel = s.rename("f", &p("d\\moved"), false).unwrap();
        h.set_rel_path(rel);
        let removed = s.remove_open(&h, false, false).unwrap();
        vec![format!("{removed:?}"), out(s.stat("d/moved")), out(s.stat("f"))]
    });
}

#[test]
fn stat_errors() {
    check("stat", false, &["3", "true", "NotFound", "PathNotFound", "InvalidName"], |s| {
        drop(dir(s, "d"));
        drop(file(s, "d\\f", b"abc"));
        vec![
            s.stat("d/f").unwrap().size.to_string(),
            s.stat("").unwrap().is_dir.to_string(),
            out(s.stat("d/nope")),
            out(s.stat("d/f/x")),
            out(s.stat("../etc")),
        ]
    });
}

#[test]
fn volume_sizes_are_sane() {
    check("statfs", false, &["512 255 sane"], |s| {
        let st = s.statfs().unwrap();
        let sane = st.total_units > 0 && st.free_units <= st.total_units && st.avail_units <= st.free_units && st.sectors_per_unit >= 1;
        vec![format!("{} {} {}", st.bytes_per_sector, st.max_name_len, if sane { "sane" } else { "insane" })]
    });
}

#[test]
fn only_the_host_has_host_features() {
    let t = TempDir::new("host");
    let posix = Share::new(&t.0, false).unwrap();
    let memory = Share::in_memory(MemoryFs::new(MemoryOptions::default()));
    let ph = file(&posix, "f", b"x");
    let mh = file(&memory, "f", b"x");
    assert!(ph.host_fd().is_some() && ph.lease_fd_number().is_some());
    assert!(mh.host_fd().is_none() && mh.lease_fd_number().is_none());
    assert!(matches!(mh.host_lock(0, 1, true), Err(FsError::NotSupported)), "no pretended host lock");
    assert!(matches!(mh.take_lease(opportune_fs::kernel_lease::Lease::Read), Err(FsError::NotSupported)), "no pretended lease");
    assert!(matches!(memory.open_dir(""), Err(FsError::NotSupported)));
    assert!(posix.open_dir("").is_ok());
}

#[test]
fn the_budget_bounds_the_memory_backend() {
    let fs = MemoryFs::new(MemoryOptions { budget: 16 << 10, ..MemoryOptions::default() });
    let s = Share::in_memory(fs.clone());
    let h = file(&s, "f", &[7u8; 12 << 10]);
    assert_eq!(fs.used(), 12 << 10);
    assert!(matches!(h.write_at(&[1u8; 8 << 10], 12 << 10), Err(FsError::DiskFull)));
    assert!(matches!(h.set_allocation(1 << 20), Err(FsError::DiskFull)));
    assert_eq!(FsError::DiskFull.status(), opportune_types::NtStatus::DISK_FULL);
    assert_eq!(h.info().unwrap().size, 12 << 10, "a refused write changes nothing");
    h.write_at(&[1u8; 4 << 10], 12 << 10).unwrap();
    assert!(matches!(h.write_at(b"x", 16 << 10), Err(FsError::DiskFull)));
    drop(h);
    s.remove("f", false).unwrap();
    assert_eq!(fs.used(), 0, "a removed file gives its space back");
    assert_eq!(fs.objects(), 1, "only the root is left");
}

#[test]
fn injected_faults_fail_the_next_writes_and_flushes() {
    let fs = MemoryFs::new(MemoryOptions::default());
    let s = Share::in_memory(fs.clone());
    let h = file(&s, "f", b"kept");
    fs.fail_writes(1);
    assert_eq!(out(h.write_at(b"lost", 0)), format!("Io({:?})", Some(libc_eio())));
    assert_eq!(read_all(&h), "kept");
    h.write_at(b"next", 0).unwrap();
    fs.fail_syncs(1);
    assert!(h.sync().is_err());
    h.sync().unwrap();
}

fn libc_eio() -> i32 {
    5
}

#[test]
fn a_trailing_separator_demands_a_directory() {
    let e = ["InvalidName", "Opened", "InvalidName", "InvalidName", "Created"];
    check("trailing", false, &e, |s| {
        drop(file(s, "f", b""));
        drop(dir(s, "d"));
        vec![
            act(create(s, "f\\", Open, None)),
            act(create(s, "d\\", Open, None)),
            act(create(s, "d\\", Open, Some(false))),
            act(create(s, "new\\", OpenIf, None)),
            act(create(s, "new2\\", Create, Some(true))),
        ]
    });
}

#[test]
fn a_link_replaces_only_what_may_be_replaced() {
    let e = ["AccessDenied", "AccessDenied", "AccessDenied", "replaced", "from f", "ok"];
    check("link-replace", false, &e, |s| {
        let h = file(s, "f", b"from f");
        drop(file(s, "busy", b""));
        drop(dir(s, "d"));
        let ro = file(s, "ro", b"");
        ro.set_basic(&BasicInfo { attributes: Some(FileAttributes::READONLY), ..Default::default() }).unwrap();
        drop(ro);
        drop(file(s, "plain", b"old"));
        let l = h.link(&p("PLAIN"), true, |_| false);
        let replaced = if l.as_ref().is_ok_and(|l| l.replaced) { "replaced" } else { "kept" };
        let g = create(s, &l.unwrap().rel, Open, None).unwrap().handle;
        vec![
            out(h.link(&p("busy"), true, |_| true)),
            out(h.link(&p("d"), true, |_| false)),
            out(h.link(&p("ro"), true, |_| false)),
            replaced.into(),
            read_all(&g),
            out(h.link(&p("f"), true, |_| false)),
        ]
    });
}

#[test]
fn a_directory_may_replace_a_file() {
    check("dir-over-file", false, &["ok", "true", "NotFound", "d/inner"], |s| {
        drop(dir(s, "d"));
        drop(file(s, "d\\inner", b""));
        drop(file(s, "f", b"file"));
        let r = out(s.rename("d", &p("f"), true));
        let moved = s.stat("f").unwrap().is_dir.to_string();
        let root = create(s, "f", Open, None).unwrap().handle;
        let inner: Vec<String> = root.read_dir().unwrap().into_iter().map(|e| format!("d/{}", e.name)).collect();
        vec![r, moved, out(s.stat("d")), inner.join(",")]
    });
}

#[test]
fn stream_supersede_and_open_if() {
    check("stream-supersede", false, &["Superseded", "0", "Opened", "Created"], |s| {
        let h = create(s, "f:s", Create, None).unwrap().handle;
        h.write_at(b"data", 0).unwrap();
        drop(h);
        let o = create(s, "f:s", Supersede, None).unwrap();
        let size = o.handle.info().unwrap().size.to_string();
        vec![format!("{:?}", o.action), size, act(create(s, "f:S", OpenIf, None)), act(create(s, "f:t", OpenIf, None))]
    });
}

#[test]
fn a_stream_is_bounded_like_an_xattr_value() {
    let s = Share::in_memory(MemoryFs::new(MemoryOptions::default()));
    let h = create(&s, "f:big", Create, None).unwrap().handle;
    h.write_at(&[1u8; 60 << 10], 0).unwrap();
    assert!(matches!(h.write_at(&[1u8; 8 << 10], 60 << 10), Err(FsError::DiskFull)), "past 64 KiB");
    assert!(matches!(h.set_len(1 << 20), Err(FsError::DiskFull)));
    assert_eq!(h.info().unwrap().size, 60 << 10);
}
