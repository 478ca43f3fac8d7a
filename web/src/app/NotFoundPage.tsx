import { Link } from "react-router";

export default function NotFoundPage() {
  return (
    <>
      <h1>No such page</h1>
      <p>
        Nothing lives at this address. Go to the <Link to="/datasets">datasets</Link> or your{" "}
        <Link to="/account">account</Link>.
      </p>
    </>
  );
}
