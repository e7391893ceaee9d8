//! Reading `#[low_rank(...)]` attributes: the only place that does.

use syn::{Attribute, Expr, ExprLit, Ident, Lit, LitStr, Path, spanned::Spanned};

use crate::check::Errors;

pub const ATTRIBUTE: &str = "low_rank";

/// What a field's `#[low_rank]` attributes say.
#[derive(Default)]
pub struct FieldAttr {
    /// `#[low_rank]` (bare, or with a rank rule): convert this nested module.
    pub nested: bool,
    /// `#[low_rank(skip)]`: carry the field over unchanged.
    pub skip: bool,
    /// `#[low_rank(rank = N)]` or `#[low_rank(ratio = K)]`.
    pub rule: Option<Rule>,
}

/// A rank rule given on a field.
pub enum Rule {
    Rank(usize),
    Ratio(f64),
}

/// What the container's `#[low_rank(...)]` attributes say.
#[derive(Default)]
pub struct ContainerAttr {
    /// `#[low_rank(twin = Name)]`: the twin's name.
    pub twin: Option<Ident>,
    /// `#[low_rank(crate = "path")]`: where the `pela` crate is.
    pub krate: Option<Path>,
}

const FIELD_FORMS: &str = "expected `#[low_rank]`, `#[low_rank(skip)]`, `#[low_rank(rank = N)]` or `#[low_rank(ratio = K)]`";
const CONTAINER_FORMS: &str =
    "expected `#[low_rank(twin = NameOfTheTwin)]` or `#[low_rank(crate = \"path::to::pela\")]`";

pub fn field(attrs: &[Attribute], errors: &mut Errors) -> FieldAttr {
    let mut out = FieldAttr::default();
    let mut seen: Option<&Attribute> = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTRIBUTE)) {
        if seen.is_some() {
            errors.push(syn::Error::new_spanned(
                attr,
                "duplicate `#[low_rank]` attribute: put every option in one `#[low_rank(...)]`",
            ));
            continue;
        }
        seen = Some(attr);
        if matches!(attr.meta, syn::Meta::Path(_)) {
            out.nested = true;
            continue;
        }
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                if out.skip {
                    return Err(meta.error("duplicate `skip`"));
                }
                out.skip = true;
                Ok(())
            } else if meta.path.is_ident("rank") {
                if out.rule.is_some() {
                    return Err(meta.error("give one of `rank` or `ratio`, once"));
                }
                let lit: syn::LitInt = meta.value()?.parse()?;
                let rank: usize = lit.base10_parse()?;
                if rank == 0 {
                    return Err(syn::Error::new(
                        lit.span(),
                        "a rank must be at least 1; to keep the layer dense, use `#[low_rank(skip)]`",
                    ));
                }
                out.rule = Some(Rule::Rank(rank));
                out.nested = true;
                Ok(())
            } else if meta.path.is_ident("ratio") {
                if out.rule.is_some() {
                    return Err(meta.error("give one of `rank` or `ratio`, once"));
                }
                let expr: Expr = meta.value()?.parse()?;
                let ratio = number(&expr).ok_or_else(|| {
                    syn::Error::new(expr.span(), "`ratio` takes a number literal, e.g. `ratio = 3.0`")
                })?;
                if ratio.is_nan() || ratio <= 1.0 {
                    return Err(syn::Error::new(
                        expr.span(),
                        "the compression ratio κ must be greater than 1 (κ = 2 halves the layer)",
                    ));
                }
                out.rule = Some(Rule::Ratio(ratio));
                out.nested = true;
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown `low_rank` option `{}`; {FIELD_FORMS}",
                    path_text(&meta.path)
                )))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
        if out.skip && out.rule.is_some() {
            errors.push(syn::Error::new_spanned(
                attr,
                "`skip` keeps the field as it is; it cannot take a `rank` or `ratio`",
            ));
        }
    }
    out
}

pub fn container(attrs: &[Attribute], errors: &mut Errors) -> ContainerAttr {
    let mut out = ContainerAttr::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTRIBUTE)) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("twin") {
                let value = meta.value()?;
                out.twin = Some(if value.peek(LitStr) {
                    value.parse::<LitStr>()?.parse()?
                } else {
                    value.parse()?
                });
                Ok(())
            } else if meta.path.is_ident("crate") {
                out.krate = Some(meta.value()?.parse::<LitStr>()?.parse()?);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown `low_rank` option `{}` on a struct; {CONTAINER_FORMS}",
                    path_text(&meta.path)
                )))
            }
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

fn number(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse().ok(),
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<u64>().ok().map(|i| i as f64),
        _ => None,
    }
}

fn path_text(path: &Path) -> String {
    quote::quote!(#path).to_string().replace(' ', "")
}
