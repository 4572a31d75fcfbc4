// The embedded rule pack (`include_dir!` in src/detection) is read at compile time; cargo
// does not see a rule file added, changed or removed unless told.
fn main() {
    println!("cargo:rerun-if-changed=rules/cloudtrail");
}
