//! TEMPORARY stub (the real module comes from the config branch).
use std::path::Path;
pub struct Credentials {
    pub jwt: String,
}
pub fn read(_path: &Path) -> Result<Credentials, String> {
    Err("unsupported".into())
}
impl Credentials {
    pub fn sign_nonce(&self, _nonce: &str) -> String {
        String::new()
    }
}
