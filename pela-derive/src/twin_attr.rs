//! `#[pela::twin]`: one `impl` block, emitted for a module and again for its twin.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, ItemImpl, Type};

use crate::model::twin_ident;

pub fn expand(args: TokenStream, input: TokenStream) -> Result<TokenStream, syn::Error> {
    let twin_name: Option<Ident> = if args.is_empty() {
        None
    } else {
        Some(syn::parse2(args).map_err(|e| {
            syn::Error::new(
                e.span(),
                "`#[pela::twin]` takes nothing, or the name of the twin when \
                 `#[low_rank(twin = Name)]` renamed it: `#[pela::twin(Name)]`",
            )
        })?)
    };
    let item: ItemImpl = syn::parse2(input.clone()).map_err(|_| {
        syn::Error::new_spanned(
            &input,
            "`#[pela::twin]` goes on an `impl` block (inherent, or of a trait) of a struct that \
             derives `LowRank`; it emits the block again for the struct's low-rank twin",
        )
    })?;
    let mut copy = item.clone();
    let Type::Path(self_ty) = copy.self_ty.as_mut() else {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "`#[pela::twin]` needs an `impl` for a named struct, e.g. `impl<B: Backend> Net<B>`",
        ));
    };
    let last = self_ty
        .path
        .segments
        .last_mut()
        .expect("a type path has a last segment");
    last.ident = twin_name.unwrap_or_else(|| twin_ident(&last.ident));
    Ok(quote! {
        #item
        #copy
    })
}
