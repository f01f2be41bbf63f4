//! A data directory keeps files, their bytes and the CRM data across a restart.

use kommo_files_emulator::Emulator;
use serde_json::json;

use crate::common::{pattern, sha256_hex, Api};

#[test]
fn a_restart_with_the_same_data_directory_keeps_everything() {
    let dir = crate::common::temp_dir("restart");
    let bytes = pattern(300_000);
    let (file, sha) = {
        let api = Api::with(Emulator::builder().data_dir(&dir).max_part_size(65_536));
        let file = api.upload("kept.bin", &bytes);
        let put = api.account(
            "PUT",
            "/api/v4/leads/1001/files",
            Some(json!([{ "file_uuid": file["uuid"] }])),
        );
        assert_eq!(put.status, 202);
        let sha = api.emu.files()[0].versions[0].sha256.clone();
        assert!(dir
            .join("blobs")
            .join(file["version_uuid"].as_str().unwrap())
            .exists());
        (file, sha)
    };
    assert_eq!(sha, sha256_hex(&bytes));

    let api = Api::with(Emulator::builder().data_dir(&dir));
    let uuid = file["uuid"].as_str().unwrap();
    let got = api.drive("GET", &format!("/v1.0/files/{uuid}"), None);
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["size"], bytes.len());
    // Links carry the new port; the bytes are the same.
    let href = got.json()["_links"]["download"]["href"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.download(&href), bytes);
    assert_eq!(api.emu.files()[0].versions[0].sha256, sha);
    let links = api.account("GET", "/api/v4/leads/1001/files", None);
    assert_eq!(links.json()["_embedded"]["files"][0]["file_uuid"], uuid);
    // New files get fresh ids after the restart.
    let second = api.upload("second.txt", b"2");
    assert_ne!(second["id"], file["id"]);
    drop(api);
    std::fs::remove_dir_all(&dir).unwrap();
}
