// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title One escrow for every dataset's payment funds
/// @notice A buyer opens a dataset record, anyone funds it, the distributor debits it when an epoch
/// is settled and pays annotators out of what was debited; the buyer gets back what was never
/// debited by closing the dataset. No contract is deployed per dataset.
interface IDatasetEscrow {
    struct Dataset {
        address buyer;
        address token;
        bool closed;
        /// @dev funded and not yet debited or refunded
        uint256 available;
        /// @dev total ever debited by settled epochs
        uint256 debited;
    }

    error EscrowUnknownDataset(bytes32 datasetId);
    error EscrowDatasetExists(bytes32 datasetId);
    error EscrowDatasetClosed(bytes32 datasetId);
    error EscrowNotBuyer(bytes32 datasetId, address caller);
    error EscrowNotDistributor(address caller);
    error EscrowZeroAmount();
    error EscrowZeroToken();
    /// @dev the token delivered less than asked (fee-on-transfer); such tokens are refused
    error EscrowShortDeposit(bytes32 datasetId, uint256 expected, uint256 received);
    error EscrowInsufficientFunds(bytes32 datasetId, uint256 available, uint256 needed);
    error EscrowInsufficientOwed(address token, uint256 owed, uint256 needed);

    event DatasetCreated(bytes32 indexed datasetId, address indexed buyer, address indexed token, bytes32 salt);
    event DatasetFunded(bytes32 indexed datasetId, address indexed funder, uint256 amount, uint256 available);
    event DatasetDebited(bytes32 indexed datasetId, uint64 indexed epoch, uint256 amount, uint256 available);
    event DatasetClosed(bytes32 indexed datasetId, address indexed buyer, uint256 refund);
    event PaidOut(address indexed token, address indexed account, uint256 amount);

    /// @notice The id a buyer's dataset gets: bound to the buyer so nobody can squat it.
    function datasetIdOf(address buyer, bytes32 salt) external pure returns (bytes32);

    /// @notice Opens a dataset record paid in `token`, owned by the caller.
    function createDataset(bytes32 salt, address token) external returns (bytes32 datasetId);

    /// @notice Adds `amount` of the dataset's token, pulled from the caller by transferFrom.
    function fund(bytes32 datasetId, uint256 amount) external;

    /// @notice Opens and funds in one call (the buyer's usual path).
    function createAndFund(bytes32 salt, address token, uint256 amount) external returns (bytes32 datasetId);

    /// @notice Closes the dataset and sends everything not yet debited back to the buyer.
    function close(bytes32 datasetId) external;

    /// @notice Moves `amount` from the dataset's available funds into the token's owed pool.
    /// @dev Only the distributor, when it posts an epoch.
    function debit(bytes32 datasetId, uint64 epoch, uint256 amount) external;

    /// @notice Pays `amount` of `token` from the owed pool to `account`. Only the distributor.
    function payOut(address token, address account, uint256 amount) external;

    function distributor() external view returns (address);
    function dataset(bytes32 datasetId) external view returns (Dataset memory);
    /// @notice Debited and not yet paid out, per token.
    function owed(address token) external view returns (uint256);
}
