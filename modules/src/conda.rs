//! placeholder
use async_trait::async_trait;
use crate::{Args, Context, Module, ModuleDoc, ModuleResult, RemoteError};
pub struct Conda;
static DOC: ModuleDoc = ModuleDoc { name: "conda", short: "", description: "", args: &[], free_form: false, examples: "", returns: &[] };
#[async_trait]
impl Module for Conda {
    fn doc(&self) -> &'static ModuleDoc { &DOC }
    async fn run(&self, _args: &Args, _ctx: &Context<'_>) -> Result<ModuleResult, RemoteError> { Ok(ModuleResult::failed("todo")) }
}
