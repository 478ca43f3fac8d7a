// The full check belongs to the command line: `label-ledger audit` re-derives every payout from
// the publication and the chain (README, "Auditing from the chain alone").
import { useService } from "../chain/service";

export function AuditCommand() {
  const { rpcUrl, ledger } = useService();
  const published = `${window.location.origin}/v1/published`;
  const command = `label-ledger audit --epochs ${published}${rpcUrl === null ? "" : ` --rpc ${rpcUrl}`}`;
  return (
    <section aria-labelledby="audit-command-heading" className="auditor-command">
      <h2 id="audit-command-heading">The full audit, from the command line</h2>
      <p>
        A proof shows one annotator&apos;s leaves are in the roots on chain. The command-line audit checks every
        epoch: each manifest against the ledger&apos;s commitment, every tree against its root, every debit against
        the dataset&apos;s terms, every payout recomputed from the labels paid, without this service&apos;s database
        (README, &ldquo;Auditing from the chain alone&rdquo;). From a clone of label-ledger:
      </p>
      <pre tabIndex={0} aria-label="The audit command">
        <code>{command}</code>
      </pre>
      <p>
        It reads{" "}
        <a href={`${published}/index.json`}>the publication this service serves</a> and the ledger at{" "}
        <code className="hash">{ledger}</code>; it exits 1 on any failed check.
      </p>
    </section>
  );
}
