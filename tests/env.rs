//! `Client::from_env`: the key and region from the environment. One test
//! function, run alone in its own binary, because the environment is shared
//! by the whole process.

use fingerprint_server_sdk::{Client, ClientBuilder, Error, Region};

fn set(name: &str, value: Option<&str>) {
    // SAFETY: this binary has a single test and no other threads touch the
    // environment while it runs.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn from_env_reads_key_and_region() {
    set("FINGERPRINT_SECRET_API_KEY", None);
    set("FINGERPRINT_REGION", None);
    let err = Client::from_env().unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    assert!(
        err.to_string().contains("FINGERPRINT_SECRET_API_KEY"),
        "{err}"
    );

    set("FINGERPRINT_SECRET_API_KEY", Some("sk_env_test"));
    let client = Client::from_env().expect("key alone is enough");
    assert_eq!(client.base_url(), Region::Global.base_url());
    assert!(!format!("{client:?}").contains("sk_env_test"));

    for (name, region) in [
        ("eu", Region::Eu),
        ("AP", Region::Asia),
        ("us", Region::Global),
    ] {
        set("FINGERPRINT_REGION", Some(name));
        let client = Client::from_env().expect("valid region");
        assert_eq!(client.base_url(), region.base_url(), "{name}");
    }

    set("FINGERPRINT_REGION", Some(""));
    assert_eq!(
        Client::from_env().unwrap().base_url(),
        Region::Global.base_url()
    );

    set("FINGERPRINT_REGION", Some("moon"));
    let err = ClientBuilder::from_env().unwrap_err();
    assert!(err.to_string().contains("moon"), "{err}");

    set("FINGERPRINT_SECRET_API_KEY", None);
    set("FINGERPRINT_REGION", None);
}
