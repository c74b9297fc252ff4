-- A COGS anomaly's value, expected and bounds are money, in the currency COGS was summed in when it
-- was found (the billing worker's TALLY_COGS_CURRENCY, or `tally anomalies scan --currency`): recorded
-- with it, so `tally anomalies list` names it and a later change of that setting relabels nothing.
-- Usage anomalies are quantities: NULL. COGS anomalies recorded before this column: NULL (not known).
ALTER TABLE anomalies ADD COLUMN currency text;
ALTER TABLE anomalies ADD CONSTRAINT anomalies_currency_of_cogs_only CHECK (metric = 'cogs' OR currency IS NULL);
