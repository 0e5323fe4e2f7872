//! Generates Kotlin, Swift and Python sources from the built
//! `whereabouts_mobile` library (see `mobile-bindings/generate.sh`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
