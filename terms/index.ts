// Finance's terms as published facts: publishing files into the logs, and loading what a period is billed under.
export {
  recordedTermsOf,
  UnknownCustomerError,
  UnpublishedRateCardError,
  type CustomerTerms,
  type TermsSource,
} from './customer-terms.ts';
export { publishedTerms } from './published-terms.ts';
export { publishContractFiles, publishContractTexts, publishRateCardFiles, publishRateCardRoot } from './publish.ts';
