//! The config file: `$XDG_CONFIG_HOME/kommo-files/config.toml`, `--config` and `KOMMO_CONFIG`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::support::{arg, Cli, TestEnv};

fn write_config(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A command with no connection in the environment: only the config file can give one.
fn bare(env: &TestEnv) -> Cli {
    Cli::new(env.home.path())
}

fn default_config(env: &TestEnv) -> PathBuf {
    env.home.join("config/kommo-files/config.toml")
}

fn settings(env: &TestEnv) -> String {
    format!(
        "base_url = \"{}\"\ntoken = \"{}\"\n",
        env.emulator.account_url(),
        env.emulator.token()
    )
}

#[test]
fn the_default_config_file_connects() {
    let env = TestEnv::new();
    env.sdk()
        .upload_bytes("listed.txt", &b"hello"[..], Default::default())
        .unwrap();
    write_config(&default_config(&env), &settings(&env), 0o600);
    let output = bare(&env).run(&["ls"]).success();
    assert!(output.stdout.contains("listed.txt"), "{}", output.stdout);
    assert!(output.stderr.is_empty(), "{}", output.stderr);

    // Readable by others: it still works, with a warning naming the file.
    std::fs::set_permissions(default_config(&env), std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = bare(&env).run(&["ls"]).success();
    assert!(
        output.stderr.starts_with(&format!(
            "warning: {} can be read by other users",
            default_config(&env).display()
        )),
        "{}",
        output.stderr
    );

    // The environment overrides the file, field by field.
    write_config(
        &default_config(&env),
        &format!(
            "base_url = \"{}\"\ntoken = \"wrong\"\n",
            env.emulator.account_url()
        ),
        0o600,
    );
    bare(&env).run(&["ls"]).expect_code(1);
    bare(&env)
        .env("KOMMO_TOKEN", env.emulator.token())
        .run(&["ls"])
        .success();
}

#[test]
fn config_and_kommo_config_name_another_file() {
    let env = TestEnv::new();
    let path = env.home.join("elsewhere.toml");
    write_config(&path, &settings(&env), 0o600);
    bare(&env).run(&["--config", arg(&path), "ls"]).success();
    bare(&env).env("KOMMO_CONFIG", &path).run(&["ls"]).success();

    let missing = env.home.join("missing.toml");
    let output = bare(&env)
        .run(&["ls", "--config", arg(&missing)])
        .expect_code(2);
    assert!(output.stderr.contains(arg(&missing)), "{}", output.stderr);
}

#[test]
fn an_unknown_key_is_a_configuration_error() {
    let env = TestEnv::new();
    let path = default_config(&env);
    write_config(
        &path,
        &format!("{}tokne = \"typo\"\n", settings(&env)),
        0o600,
    );
    let output = bare(&env).run(&["ls"]).expect_code(2);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert!(
        lines[0].starts_with(&format!(
            "error: the config file {} is not valid",
            path.display()
        )),
        "{}",
        output.stderr
    );
    assert!(lines[0].contains("tokne"), "{}", output.stderr);
    assert!(
        lines[1].starts_with("hint: expected TOML keys"),
        "{}",
        output.stderr
    );
    let json = bare(&env)
        .run(&["ls", "--json"])
        .expect_code(2)
        .stderr_json();
    assert_eq!(json["error"]["kind"], "config");
}

/// Commands with one state directory spend one rate budget per account: a file there, owner-only.
#[test]
fn commands_share_a_rate_budget_file_in_the_state_directory() {
    let env = TestEnv::new();
    env.ok(&["ls"]);
    let budgets: Vec<_> = std::fs::read_dir(env.state_dir().join("budgets"))
        .expect("a budgets directory")
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(budgets.len(), 1, "{budgets:?}");
    assert!(budgets[0].to_string_lossy().ends_with(".rate"));
    assert_eq!(std::fs::read(&budgets[0]).unwrap().len(), 12);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&budgets[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
