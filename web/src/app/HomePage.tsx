import { Link } from "react-router";

export default function HomePage() {
  return (
    <>
      <h1>Paid per verified label</h1>
      <p>
        Buyers escrow the payment for their datasets on chain; annotators label items here and are
        paid for every label that is verified; anyone can audit the payouts against the chain.
      </p>
      <h2>Start</h2>
      <ol className="steps">
        <li>Connect your wallet with the button at the top of the page.</li>
        <li>Sign in: your wallet signs a message (no transaction, no fee).</li>
        <li>
          Take the roles you work in on your <Link to="/account">roles page</Link>.
        </li>
        <li>
          <Link to="/datasets">Find work</Link> among the open datasets, read its instructions,
          and start labelling.
        </li>
      </ol>
      <p>
        The service's API is described at <a href="/docs">/docs</a>.
      </p>
    </>
  );
}
