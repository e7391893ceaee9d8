//! The derive macros of [pela-rs](https://github.com/pela-rs/pela-rs). Use them through the
//! `pela` crate: `pela::LowRank` (derive) and `pela::twin` (attribute), documented there.

mod attr;
mod check;
mod expand;
mod fallback;
mod model;
mod twin_attr;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Generates the low-rank student twin of a Burn module; see `pela::LowRank`.
#[proc_macro_derive(LowRank, attributes(low_rank))]
pub fn derive_low_rank(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input)
        .unwrap_or_else(|errors| fallback::expand(&input, errors))
        .into()
}

/// Emits an `impl` block for a module and again for its low-rank twin; see `pela::twin`.
#[proc_macro_attribute]
pub fn twin(args: TokenStream, input: TokenStream) -> TokenStream {
    twin_attr::expand(args.into(), input.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
