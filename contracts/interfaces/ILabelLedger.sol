// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title LabelLedger v2: escrow, epochs, claims and the LABEL token in one contract
/// @notice Buyers lock payment tokens per dataset; a root proposer posts one epoch at a time
/// (payout root, label root, content hash and the datasets it debits); after an immutable timelock
/// anyone accepts it and every annotator (or anyone for them) claims its cumulative payment and
/// LABEL reward against the accepted root. The contract is the LABEL ERC-20 (6 decimals).
/// @dev Design and gas arithmetic: docs/design/contracts-v2.md and GAS_REPORT-v2.md.
interface ILabelLedger is IERC20 {
    /// @notice A dataset's lifecycle. `None` means the id was never created.
    enum DatasetStatus {
        None,
        Open,
        Closing,
        Closed
    }

    /// @notice One dataset: two slots, both written at creation, so a debit only updates.
    struct Dataset {
        address buyer;
        uint16 token; // allowlist index of the payment token
        uint16 feeBps; // snapshotted at creation
        DatasetStatus status;
        uint40 closeRequestedAt;
        uint128 available; // funded and not yet debited (nor refunded)
        uint128 debited; // debited by epochs, fees excluded
    }

    /// @notice One payout leaf: cumulative entitlements of `account` for labels paid in `token`.
    struct PayoutLeaf {
        address account;
        uint16 token;
        uint256 cumulativePayment;
        uint256 cumulativeReward;
    }

    // ---- errors ------------------------------------------------------------------------------

    error LedgerUnknownToken(uint16 token);
    error LedgerTokenAlreadyListed(address token, uint16 index);
    error LedgerTooManyTokens();
    error LedgerFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error LedgerOwedShortfall(uint16 token, uint256 owed, uint256 needed);
    error LedgerPaused();
    error LedgerNotPaused();
    error LedgerZeroAddress();

    error DatasetUnknown(uint256 datasetId);
    error DatasetExists(uint256 datasetId);
    error DatasetNotBuyer(uint256 datasetId, address caller);
    error DatasetNotOpen(uint256 datasetId, DatasetStatus status);
    error DatasetNotClosing(uint256 datasetId, DatasetStatus status);
    error DatasetCloseNotDue(uint256 datasetId, uint256 dueAt);
    error DatasetIsClosed(uint256 datasetId);
    error DatasetShortDeposit(uint256 datasetId, uint256 expected, uint256 received);
    error DatasetInsufficientFunds(uint256 datasetId, uint256 available, uint256 needed);

    error EpochOutOfOrder(uint64 epoch, uint64 expected);
    error EpochPending(uint64 pendingEpoch);
    error EpochNonePending();
    error EpochEmptyRoot();
    error EpochRevokeWindowClosed(uint64 epoch, uint256 acceptableAt);
    error EpochTimelocked(uint64 epoch, uint256 acceptableAt);
    error EpochDebitsLengthMismatch(uint256 datasetIds, uint256 debits);
    error EpochDebitsMismatch(bytes32 expected, bytes32 given);

    error ClaimInvalidProof(address account, uint16 token);
    error ClaimInvalidMultiproof();

    // ---- events ------------------------------------------------------------------------------

    event TokenListed(uint16 indexed index, address indexed token);
    event FeeBpsSet(uint16 feeBps);
    event FeesWithdrawn(uint16 indexed token, address indexed treasury, uint256 amount);
    event Paused(address indexed by);
    event Unpaused(address indexed by);

    event DatasetCreated(
        uint256 indexed datasetId, address indexed buyer, uint16 indexed token, uint16 feeBps, bytes32 salt
    );
    event DatasetFunded(uint256 indexed datasetId, address indexed funder, uint256 amount, uint256 available);
    event DatasetCloseRequested(uint256 indexed datasetId, uint256 dueAt);
    event DatasetClosed(uint256 indexed datasetId, address indexed buyer, uint256 refund);

    /// @notice Carries every input, so an auditor rebuilds the ledger from logs alone.
    event EpochProposed(
        uint64 indexed epoch,
        bytes32 payoutRoot,
        bytes32 labelRoot,
        bytes32 contentHash,
        uint256[] datasetIds,
        uint256[] debits,
        uint256 acceptableAt
    );
    event EpochAccepted(uint64 indexed epoch, bytes32 payoutRoot);
    event EpochRevoked(uint64 indexed epoch);

    event Claimed(address indexed account, uint16 indexed token, uint256 payment, uint256 reward);

    // ---- admin -------------------------------------------------------------------------------

    /// @notice Allowlists a payment token (admin). Indices start at 1; 0 means none.
    function listToken(address token) external returns (uint16 index);

    /// @notice Sets the fee, in basis points on top of each debit, for datasets created from now on
    /// (admin). At most `MAX_FEE_BPS`.
    function setFeeBps(uint16 newFeeBps) external;

    /// @notice Sends the fees accrued in `token` to `treasury` (admin), except those the pending
    /// epoch took while the guardian may still revoke it (within the timelock; a revoke returns
    /// them to the datasets).
    function withdrawFees(uint16 token, address treasury) external returns (uint256 amount);

    /// @notice Stops deposits and claims (pauser). Refunds and epochs are never paused.
    function pause() external;

    /// @notice Resumes deposits and claims (pauser).
    function unpause() external;

    // ---- datasets ----------------------------------------------------------------------------

    /// @notice Creates dataset `datasetIdOf(caller, salt)` paid in allowlisted `token`, owned by the
    /// caller, and funds it with `amount` taken from the caller (approve first; 0 creates it empty).
    /// The id is known before the transaction and nobody else can take it. Refuses fee-on-transfer
    /// tokens.
    function createAndFund(bytes32 salt, uint16 token, uint256 amount) external returns (uint256 datasetId);

    /// @notice The id `buyer`'s dataset created with `salt` has: `uint256(keccak256(abi.encode(buyer, salt)))`.
    function datasetIdOf(address buyer, bytes32 salt) external pure returns (uint256);

    /// @notice Adds `amount` of the dataset's token, taken from the caller, to an open dataset.
    function fund(uint256 datasetId, uint256 amount) external;

    /// @notice `fund` with an ERC-2612 permit signed by the caller, in the same call. A permit
    /// already used (e.g. front-run) is ignored when the allowance is there anyway.
    function fundWithPermit(uint256 datasetId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external;

    /// @notice The buyer starts closing: no more funding; epochs may still debit the dataset for
    /// labels submitted before now, until `finalizeClose` after `CLOSE_GRACE_PERIOD`.
    function requestClose(uint256 datasetId) external;

    /// @notice Anyone, once the grace period is over: closes the dataset and refunds what is
    /// available to the buyer. On a closed dataset it refunds anything returned since (a revoked
    /// epoch's debits).
    function finalizeClose(uint256 datasetId) external returns (uint256 refund);

    // ---- epochs ------------------------------------------------------------------------------

    /// @notice Proposes epoch `acceptedEpoch + 1` (root proposer): debits each dataset by its
    /// debit (plus its fee) and makes the payout root acceptable after `TIMELOCK`. A pending epoch
    /// whose timelock has passed is accepted first, so steady-state posting is one transaction;
    /// one still inside its timelock makes this revert with `EpochPending`. The payout root must
    /// not be zero.
    function proposeEpoch(
        uint64 epoch,
        bytes32 newPayoutRoot,
        bytes32 labelRoot,
        bytes32 contentHash,
        uint256[] calldata datasetIds,
        uint256[] calldata debits
    ) external;

    /// @notice Anyone, once the timelock has passed: the pending payout root becomes the one claims
    /// are checked against.
    function acceptEpoch() external;

    /// @notice Guardian, within the timelock: drops the pending epoch and returns its debits (and
    /// fees) to the datasets. The lists must be the ones proposed. After the timelock the epoch is
    /// final whether or not anyone has accepted it yet (`EpochRevokeWindowClosed`).
    function revokeEpoch(uint256[] calldata datasetIds, uint256[] calldata debits) external;

    // ---- claims ------------------------------------------------------------------------------

    /// @notice Pays `account` (anyone may call) what its leaf in the accepted root entitles it to
    /// beyond what it has claimed: payment in `token`, LABEL credited in place. Claiming again pays
    /// nothing more and does not revert.
    function claim(
        address account,
        uint16 token,
        uint256 cumulativePayment,
        uint256 cumulativeReward,
        bytes32[] calldata proof
    ) external returns (uint256 payment, uint256 reward);

    /// @notice Push payout: `claim` for every leaf, verified with one OpenZeppelin multiproof
    /// (leaves in the order the multiproof lists them). Never pays a leaf twice.
    function claimMany(PayoutLeaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata proofFlags) external;

    // ---- views -------------------------------------------------------------------------------

    function MAX_FEE_BPS() external view returns (uint16);
    function CLOSE_GRACE_PERIOD() external view returns (uint256);
    function TIMELOCK() external view returns (uint256);
    function ROOT_PROPOSER_ROLE() external view returns (bytes32);
    function GUARDIAN_ROLE() external view returns (bytes32);
    function PAUSER_ROLE() external view returns (bytes32);

    function decimals() external view returns (uint8);
    function name() external view returns (string memory);
    function symbol() external view returns (string memory);

    function paused() external view returns (bool);
    function feeBps() external view returns (uint16);
    function tokenCount() external view returns (uint16);
    function tokenAt(uint16 index) external view returns (address);
    function tokenIndexOf(address token) external view returns (uint16);
    function tokenState(uint16 token) external view returns (uint128 owed, uint128 fees);
    function dataset(uint256 datasetId) external view returns (Dataset memory);

    function payoutRoot() external view returns (bytes32);
    function acceptedEpoch() external view returns (uint64);
    /// @notice The pending epoch and when it was proposed; `proposedAt` is 0 when none is pending.
    function pendingEpoch() external view returns (uint64 epoch, bytes32 root, uint40 proposedAt);
    /// @notice keccak256(abi.encode(payoutRoot, labelRoot, contentHash)) of a proposed epoch (0 if
    /// never proposed or revoked).
    function epochCommitment(uint64 epoch) external view returns (bytes32);

    /// @notice What `account` has claimed so far for labels paid in `token`.
    function claimed(address account, uint16 token) external view returns (uint256 payment, uint256 reward);
}
