//! What the derive emits when the input is wrong: the errors, and an empty twin so that code
//! naming it gets no second wave of "cannot find type" errors.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, GenericParam};

use crate::model::twin_ident;

pub fn expand(input: &DeriveInput, errors: syn::Error) -> TokenStream {
    let errors = errors.into_compile_error();
    let twin = twin_ident(&input.ident);
    let vis = &input.vis;
    let (impl_generics, _, where_clause) = input.generics.split_for_impl();
    let used = input.generics.params.iter().filter_map(|p| match p {
        GenericParam::Type(t) => {
            let ident = &t.ident;
            Some(quote!(#ident))
        }
        GenericParam::Lifetime(l) => {
            let lifetime = &l.lifetime;
            Some(quote!(&#lifetime ()))
        }
        GenericParam::Const(_) => None,
    });
    quote! {
        #errors
        #[allow(dead_code)]
        #vis struct #twin #impl_generics (::core::marker::PhantomData<fn() -> (#(#used,)*)>)
        #where_clause;
    }
}
