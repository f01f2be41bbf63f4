use kommo_files::{ClientConfig, UploadOptions};

#[test]
fn blocking_round_trip() {
    let emu = kommo_files_emulator::Emulator::builder().start().unwrap();
    let config = ClientConfig::for_url(emu.account_url(), &emu.token()).unwrap();
    let client = kommo_files::blocking::Client::new(config).unwrap();
    let data = vec![5u8; 3 * 1024 * 1024 + 7];
    let file = client.upload_bytes("a.bin", data.clone(), UploadOptions::new()).unwrap();
    let mut out = Vec::new();
    client.download(&file, &mut out).unwrap();
    assert_eq!(out, data);
    let listed: Vec<_> = client.list(Default::default()).collect::<Result<_, _>>().unwrap();
    assert_eq!(listed.len(), 1);
    println!("{:#?}", emu.requests().iter().map(|r| format!("{} {} {:?}", r.method, r.path, r.status)).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn async_round_trip() {
    let emu = kommo_files_emulator::Emulator::builder().start_async().await.unwrap();
    let config = ClientConfig::for_url(emu.account_url(), &emu.token()).unwrap();
    let client = kommo_files::Client::new(config).unwrap();
    let data = vec![5u8; 3 * 1024 * 1024 + 7];
    let task = {
        let client = client.clone();
        let data = data.clone();
        tokio::spawn(async move { client.upload_bytes("a.bin", data, UploadOptions::new()).await })
    };
    let file = task.await.unwrap().unwrap();
    let mut out = Vec::new();
    client.download(&file, &mut out).await.unwrap();
    assert_eq!(out, data);
    let mut files = client.list(Default::default());
    let mut n = 0;
    while let Some(f) = files.next().await { f.unwrap(); n += 1; }
    assert_eq!(n, 1);
}
