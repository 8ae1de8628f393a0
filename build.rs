//! Build script: compiles the small C `long double` shim used by
//! `util::float` (Redis computes INCRBYFLOAT in C `long double`, which Rust
//! does not have).

fn main() {
    println!("cargo:rerun-if-changed=src/util/longdouble.c");
    cc::Build::new()
        .file("src/util/longdouble.c")
        .warnings(true)
        .compile("ember_longdouble");
}
