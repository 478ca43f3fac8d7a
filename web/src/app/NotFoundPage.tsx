import { Link } from "react-router";

export default function NotFoundPage() {
  return (
    <>
      <h1>No such page</h1>
      <p>
        Nothing lives at this address. <Link to="/datasets">Find work</Link> or{" "}
        <Link to="/account">see your roles</Link>.
      </p>
    </>
  );
}
