// One spelling per FHIR server: the discovery cache, secret names and deduplication keys all rely on
// `https://EHR.example/fhir/` and `https://ehr.example/fhir` being the same server.

export function normalizeFhirBaseUrl(value: string): string {
  const url = new URL(value);
  url.hash = '';
  url.search = '';
  url.pathname = url.pathname.replace(/\/+$/, '');
  return url.href.replace(/\/+$/, '');
}
