/** Writing literal text into a Terraform configuration. */

/**
 * Terraform reads every string of a configuration as a template: a literal text such as shell must
 * have its `${` written `$${` and its `%{` written `%%{` to reach the provider as written. (cdktf's
 * `Fn.rawString` targets HCL expressions and also re-escapes newlines and quotes, which a JSON string
 * must not have.)
 */
export function escapeTerraformTemplate(text: string): string {
  // (a replacer function, because "$$" in a replacement string means one "$")
  return text.replace(/\$\{/g, () => "$${").replace(/%\{/g, () => "%%{");
}
