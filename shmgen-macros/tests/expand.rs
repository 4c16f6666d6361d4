//! Expansion snapshots: the derive's implementation run directly on several inputs, formatted
//! with prettyplease and compared with `tests/snapshots/*.snap` (insta). Review changes with
//! `cargo insta review`, or `INSTA_UPDATE=always` and `git diff`.

#[allow(dead_code)]
#[path = "../src/expand.rs"]
mod expand;

use proc_macro2::TokenStream;
use quote::quote;

/// Runs the derive on `input` and formats the result like `cargo expand` would.
fn expand(input: TokenStream) -> String {
    let input: syn::DeriveInput = syn::parse2(input).expect("test input is a derive input");
    let output = expand::derive(&input);
    let file: syn::File = syn::parse2(output).expect("the expansion parses as items");
    prettyplease::unparse(&file)
}

/// Whether `tokens` contain the identifier `name` anywhere (string literals do not count).
fn mentions(tokens: TokenStream, name: &str) -> bool {
    tokens.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == name,
        proc_macro2::TokenTree::Group(g) => mentions(g.stream(), name),
        _ => false,
    })
}

#[test]
fn plain_struct() {
    insta::assert_snapshot!(expand(quote! {
        /// What one worker reports.
        #[derive(Clone, Copy)]
        #[repr(C)]
        pub struct WorkerStats {
            /// Tasks finished.
            pub completed: i32,
            pub errors: i32,
            pub throughput: i32,
        }
    }));
}

#[test]
fn every_field_kind_and_version() {
    insta::assert_snapshot!(expand(quote! {
        /// Workers report progress,
        /// a monitor reads it.
        ///
        /// Second paragraph.
        #[repr(C)]
        #[shmgen(version = 3)]
        pub struct Metrics {
            pub workers: Mutex<[WorkerStats; 4]>,
            pub tasks_done: CacheAligned<AtomicU64>,
            pub status: SeqLock<Str<32>>,
            pub shutdown: Event,
            pub slots: Semaphore<2>,
            pub jobs: Ring<u64, 1024>,
            pub grid: [[f64; 3]; 4],
            pub raw: Bytes<16>,
            pub log: RMutex<Str<64>>,
        }
    }));
}

#[test]
fn renamed_runtime_and_raw_identifiers() {
    let input = quote! {
        #[repr(C, align(16))]
        #[shmgen(crate = "shm::reexported")]
        struct r#Packet {
            r#type: u8,
            len: u16,
        }
    };
    let tokens = expand::derive(&syn::parse2(input.clone()).expect("a derive input"));
    assert!(
        !mentions(tokens, "shmgen_runtime"),
        "a renamed runtime must not be named by its crate name"
    );
    insta::assert_snapshot!(expand(input));
}

#[test]
fn every_error_at_once() {
    insta::assert_snapshot!(expand(quote! {
        #[shmgen(version = 2, version = 3)]
        struct Bad<T> {
            a: usize,
            b: Option<String>,
            #[shmgen(align = 64)]
            c: (u8, u8),
            d: T,
        }
    }));
}

/// Every compile-fail case expands to `compile_error!`s only (no impls, so no follow-on
/// errors), and nothing panics, whatever the input.
#[test]
fn refused_inputs_expand_to_errors_without_panicking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("tests/ui exists") {
        let path = entry.expect("readable directory").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable test case");
        let file = syn::parse_file(&text).expect("test cases are valid syntax");
        for item in file.items {
            let input: syn::DeriveInput = match item {
                syn::Item::Struct(s) => s.into(),
                syn::Item::Enum(e) => e.into(),
                syn::Item::Union(u) => u.into(),
                _ => continue,
            };
            let derives = input.attrs.iter().any(|a| {
                a.path().is_ident("derive")
                    && a.meta
                        .require_list()
                        .is_ok_and(|l| l.tokens.to_string().contains("SharedLayout"))
            });
            if !derives {
                continue;
            }
            let out = expand::derive(&input).to_string();
            seen += 1;
            // Cases refused by rustc after expansion (trait bounds, const asserts) expand to
            // impls; the others must expand to errors only.
            if out.contains("compile_error") {
                assert!(
                    !out.contains("impl"),
                    "{}: errors and impls mixed:\n{out}",
                    path.display()
                );
            }
        }
    }
    assert!(seen >= 30, "only {seen} derive inputs found in tests/ui");
}

/// Malformed attributes are errors, never panics.
#[test]
fn malformed_attributes_are_errors() {
    let cases = [
        quote! { #[repr] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen = "x"] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen(version)] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen(crate)] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen(crate = "")] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen(a::b = 1)] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen(version = 1.5)] struct A { a: u8 } },
        quote! { #[repr(C)] #[shmgen()] struct A { a: u8 } },
        quote! { #[repr(C, packed(1), align(8))] struct A { a: u8 } },
        quote! { #[repr(C)] struct A { #[shmgen] a: u8 } },
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let input: syn::DeriveInput = syn::parse2(case).expect("a derive input");
        let out = expand::derive(&input);
        let text = out.to_string();
        // `#[shmgen()]` says nothing and is accepted; everything else is refused.
        if i == 7 {
            assert!(!text.contains("compile_error"), "case {i}: {text}");
        } else {
            assert!(text.contains("compile_error"), "case {i} accepted: {text}");
        }
        syn::parse2::<syn::File>(out).expect("the expansion parses as items");
    }
}
