//! Code generation of `#[derive(LowRank)]`: the twin struct and the trait implementations.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{DeriveInput, spanned::Spanned};

use crate::attr::Rule;
use crate::model::{Container, Field, FieldKind};

pub fn derive(input: &DeriveInput) -> Result<TokenStream, syn::Error> {
    let container = Container::from_ast(input)?;
    Ok(generate(&container))
}

fn rule_tokens(krate: &syn::Path, rule: &Option<Rule>) -> TokenStream {
    match rule {
        None => quote!(::core::option::Option::None),
        Some(Rule::Rank(rank)) => {
            quote!(::core::option::Option::Some(#krate::RankRule::Rank(#rank)))
        }
        Some(Rule::Ratio(ratio)) => {
            quote!(::core::option::Option::Some(#krate::RankRule::Ratio(#ratio)))
        }
    }
}

/// The twin's type for a field.
fn twin_type(krate: &syn::Path, field: &Field<'_>) -> TokenStream {
    let ty = field.ty;
    match &field.kind {
        FieldKind::Factorise(_) => quote_spanned!(ty.span()=> #krate::StudentLinear<B>),
        FieldKind::Nested {
            spelled: Some(twin),
            ..
        } => quote_spanned!(ty.span()=> #twin),
        FieldKind::Nested { spelled: None, .. } => {
            quote_spanned!(ty.span()=> <#ty as #krate::LowRank<B>>::Twin)
        }
        FieldKind::Keep { .. } => quote!(#ty),
    }
}

fn generate(c: &Container<'_>) -> TokenStream {
    let Container {
        ident,
        twin,
        vis,
        generics,
        krate,
        fields,
    } = c;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    // With generic parameters besides `B`, the impls hold where Burn's own impls do, and each
    // nested field of a generic type states the twin it converts to.
    let mut teacher_where = where_clause
        .cloned()
        .unwrap_or_else(|| syn::parse_quote!(where));
    let mut student_where = teacher_where.clone();
    if c.has_type_params() {
        teacher_where
            .predicates
            .push(syn::parse_quote!(Self: burn::module::Module<B>));
        teacher_where
            .predicates
            .push(syn::parse_quote!(#twin #ty_generics: #krate::LowRankStudent<B>));
        student_where
            .predicates
            .push(syn::parse_quote!(Self: burn::module::Module<B>));
        for field in fields.iter().filter(|f| f.generic) {
            if matches!(field.kind, FieldKind::Keep { .. }) {
                let ty = field.ty;
                teacher_where
                    .predicates
                    .push(syn::parse_quote!(#ty: ::core::clone::Clone));
            }
            if let FieldKind::Nested {
                spelled: Some(spelled),
                ..
            } = &field.kind
            {
                let ty = field.ty;
                teacher_where
                    .predicates
                    .push(syn::parse_quote!(#ty: #krate::LowRank<B, Twin = #spelled>));
                student_where
                    .predicates
                    .push(syn::parse_quote!(#spelled: #krate::LowRankStudent<B>));
            }
        }
    }

    let twin_fields = fields.iter().map(|field| {
        let name = field.ident;
        let field_vis = field.vis;
        let attrs = &field.copied_attrs;
        let ty = twin_type(krate, field);
        quote!(#(#attrs)* #field_vis #name: #ty)
    });

    let convert_fields = fields.iter().map(|field| {
        let name = field.ident;
        let segment = name.to_string();
        let ty = field.ty;
        match &field.kind {
            FieldKind::Factorise(rule) | FieldKind::Nested { rule, .. } => {
                let own = rule_tokens(krate, rule);
                quote_spanned! {ty.span()=>
                    let #name = cx.within(#segment, |cx| {
                        <#ty as #krate::LowRank<B>>::convert(&self.#name, cx, #own.or(rule))
                    })?;
                }
            }
            FieldKind::Keep {
                skipped_linear: true,
            } => quote! {
                cx.within(#segment, |cx| #krate::__private::SkippedLinears::record_skipped(&self.#name, cx));
                let #name = ::core::clone::Clone::clone(&self.#name);
            },
            FieldKind::Keep {
                skipped_linear: false,
            } => quote!(let #name = ::core::clone::Clone::clone(&self.#name);),
        }
    });
    let names = fields.iter().map(|f| f.ident);

    let converted: Vec<&Field<'_>> = fields
        .iter()
        .filter(|f| !matches!(f.kind, FieldKind::Keep { .. }))
        .collect();
    let visit_linears = converted.iter().map(|field| {
        let (name, ty, segment) = (field.ident, field.ty, field.ident.to_string());
        quote! {
            path.within(#segment, |path| {
                <#ty as #krate::LowRank<B>>::visit_linears(&self.#name, path, f)
            });
        }
    });
    let visit_pairs = converted.iter().map(|field| {
        let (name, ty, segment) = (field.ident, field.ty, field.ident.to_string());
        quote! {
            path.within(#segment, |path| {
                <#ty as #krate::LowRank<B>>::visit_pairs(&self.#name, &twin.#name, path, f)
            });
        }
    });
    let visit_student = converted.iter().map(|field| {
        let (name, segment) = (field.ident, field.ident.to_string());
        let twin_ty = twin_type(krate, field);
        quote! {
            path.within(#segment, |path| {
                <#twin_ty as #krate::LowRankStudent<B>>::visit_student_linears(&self.#name, path, f)
            });
        }
    });

    let doc = format!(
        "The low-rank student twin of [`{ident}`], generated by `#[derive(LowRank)]`: every \
         compressible `Linear` is a `pela::StudentLinear`, every `#[low_rank]` module its own \
         twin. Create it with `pela::LowRank::to_low_rank`."
    );

    quote! {
        #[doc = #doc]
        #[derive(burn::module::Module, ::core::fmt::Debug)]
        #vis struct #twin #impl_generics #where_clause {
            #(#twin_fields,)*
        }

        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::LowRank<B> for #ident #ty_generics #teacher_where {
                type Twin = #twin #ty_generics;

                fn convert(
                    &self,
                    cx: &mut #krate::Conversion<'_>,
                    rule: ::core::option::Option<#krate::RankRule>,
                ) -> ::core::result::Result<Self::Twin, #krate::PelaError> {
                    #(#convert_fields)*
                    ::core::result::Result::Ok(#twin { #(#names,)* })
                }

                fn visit_linears<'__a>(
                    &'__a self,
                    path: &mut #krate::ModulePath,
                    f: &mut dyn ::core::ops::FnMut(&str, &'__a #krate::__private::Linear<B>),
                ) {
                    #(#visit_linears)*
                }

                fn visit_pairs<'__a>(
                    &'__a self,
                    twin: &'__a Self::Twin,
                    path: &mut #krate::ModulePath,
                    f: &mut dyn ::core::ops::FnMut(#krate::LayerPair<'__a, B>),
                ) {
                    #(#visit_pairs)*
                }
            }

            #[automatically_derived]
            impl #impl_generics #krate::LowRankStudent<B> for #twin #ty_generics #student_where {
                fn visit_student_linears<'__a>(
                    &'__a self,
                    path: &mut #krate::ModulePath,
                    f: &mut dyn ::core::ops::FnMut(&str, &'__a #krate::StudentLinear<B>),
                ) {
                    #(#visit_student)*
                }
            }
        };
    }
}
