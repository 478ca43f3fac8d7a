// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ILabelLedger} from "./interfaces/ILabelLedger.sol";
import {PayoutLeafLib} from "./libraries/PayoutLeafLib.sol";

/// @title LabelLedger v2
/// @notice Owns every dataset's escrowed payment tokens, the epoch roots, the annotators' claimed
/// counters and the LABEL token itself. See ILabelLedger for the behaviour of each function.
/// @dev Storage is laid out for the gas budgets (docs/design/contracts-v2.md): an annotator's LABEL
/// balance and claimed counters share one slot, a debit updates one dataset slot, and the slots the
/// hot paths write are never cleared to zero (a zero slot costs 20k to write again).
contract LabelLedger is ILabelLedger, IERC20Errors, AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @inheritdoc ILabelLedger
    uint16 public constant MAX_FEE_BPS = 1_000;
    uint16 private constant BPS = 10_000;
    /// @inheritdoc ILabelLedger
    uint256 public constant CLOSE_GRACE_PERIOD = 7 days;
    /// @inheritdoc ILabelLedger
    bytes32 public constant ROOT_PROPOSER_ROLE = keccak256("ROOT_PROPOSER_ROLE");
    /// @inheritdoc ILabelLedger
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @inheritdoc ILabelLedger
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @inheritdoc ILabelLedger
    uint256 public immutable TIMELOCK;

    /// @dev An annotator's whole state, one slot. LABEL has 6 decimals, so 64 bits hold 1.8e13 LABEL.
    struct Account {
        uint64 labelBalance;
        uint64 rewardClaimed; // cumulative LABEL claimed for labels paid in primaryToken
        uint16 primaryToken; // the first payment token this account claimed (0 = none yet)
        uint112 paymentClaimed; // cumulative payment claimed in primaryToken
    }

    /// @dev Claimed counters for any payment token other than an account's primary one.
    struct OtherClaimed {
        uint192 payment;
        uint64 reward;
    }

    struct TokenState {
        uint128 owed; // debited by epochs and not yet claimed
        uint128 fees; // accrued and not yet withdrawn
    }

    /// @dev Tagged with the epoch that took them, so a later epoch's first debit starts afresh
    /// without anyone having to clear the slot.
    struct PendingFees {
        uint64 epoch;
        uint192 amount;
    }

    /// @dev One slot that every claim writes (the supply), so reading `paused` there is free.
    struct Globals {
        uint64 labelSupply;
        bool paused;
        uint16 feeBps;
        uint16 tokenCount;
    }

    /// @dev One slot; `proposedAt` is 0 when nothing is pending. Never zeroed as a whole.
    struct EpochState {
        uint64 acceptedEpoch;
        uint64 pendingEpoch;
        uint40 proposedAt;
    }

    mapping(address account => Account) private _accounts;
    mapping(address account => mapping(uint16 token => OtherClaimed)) private _otherClaimed;
    mapping(address owner => mapping(address spender => uint256)) private _allowances;

    Globals private _globals;
    mapping(uint16 index => address) private _tokens;
    mapping(address token => uint16 index) private _tokenIndex;
    mapping(uint16 token => TokenState) private _tokenStates;
    /// @dev The fees the pending epoch took in a token: not withdrawable while a revoke could
    /// still hand them back to the datasets.
    mapping(uint16 token => PendingFees) private _pendingFees;
    mapping(uint256 datasetId => Dataset) private _datasets;

    EpochState private _epochs;
    bytes32 private _payoutRoot;
    bytes32 private _pendingRoot;
    bytes32 private _pendingDebitsHash;
    mapping(uint64 epoch => bytes32 commitment) private _commitments;

    modifier whenNotPaused() {
        if (_globals.paused) revert LedgerPaused();
        _;
    }

    /// @param admin holds DEFAULT_ADMIN_ROLE (grants the other roles, lists tokens, sets fees)
    /// @param timelock seconds between proposing an epoch and accepting it; 0 only on dev chains
    constructor(address admin, uint256 timelock) {
        if (admin == address(0)) revert LedgerZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        TIMELOCK = timelock;
    }

    // ---- LABEL: a minimal ERC-20 over the packed Account word ------------------------------

    /// @inheritdoc ILabelLedger
    function name() external pure returns (string memory) {
        return "Label";
    }

    /// @inheritdoc ILabelLedger
    function symbol() external pure returns (string memory) {
        return "LABEL";
    }

    /// @inheritdoc ILabelLedger
    function decimals() external pure returns (uint8) {
        return 6;
    }

    /// @inheritdoc IERC20
    function totalSupply() external view returns (uint256) {
        return _globals.labelSupply;
    }

    /// @inheritdoc IERC20
    function balanceOf(address account) external view returns (uint256) {
        return _accounts[account].labelBalance;
    }

    /// @inheritdoc IERC20
    function allowance(address owner, address spender) external view returns (uint256) {
        return _allowances[owner][spender];
    }

    /// @inheritdoc IERC20
    function approve(address spender, uint256 value) external returns (bool) {
        if (spender == address(0)) revert ERC20InvalidSpender(address(0));
        _allowances[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @inheritdoc IERC20
    function transfer(address to, uint256 value) external returns (bool) {
        _transferLabel(msg.sender, to, value);
        return true;
    }

    /// @inheritdoc IERC20
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = _allowances[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < value) revert ERC20InsufficientAllowance(msg.sender, allowed, value);
            // unchecked: allowed >= value was just checked
            unchecked {
                _allowances[from][msg.sender] = allowed - value;
            }
        }
        _transferLabel(from, to, value);
        return true;
    }

    function _transferLabel(address from, address to, uint256 value) private {
        if (from == address(0)) revert ERC20InvalidSender(address(0));
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        Account storage sender = _accounts[from];
        uint256 balance = sender.labelBalance;
        if (balance < value) revert ERC20InsufficientBalance(from, balance, value);
        // unchecked: value <= balance < 2^64, and the receiver's balance plus value is bounded by
        // the supply, which is a uint64
        unchecked {
            sender.labelBalance = uint64(balance - value);
            _accounts[to].labelBalance += uint64(value);
        }
        emit Transfer(from, to, value);
    }

    // ---- admin -------------------------------------------------------------------------------

    /// @inheritdoc ILabelLedger
    function listToken(address token) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint16 index) {
        if (token == address(0)) revert LedgerZeroAddress();
        index = _tokenIndex[token];
        if (index != 0) revert LedgerTokenAlreadyListed(token, index);
        if (_globals.tokenCount == type(uint16).max) revert LedgerTooManyTokens();
        index = ++_globals.tokenCount;
        _tokens[index] = token;
        _tokenIndex[token] = index;
        emit TokenListed(index, token);
    }

    /// @inheritdoc ILabelLedger
    function setFeeBps(uint16 newFeeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (newFeeBps > MAX_FEE_BPS) revert LedgerFeeTooHigh(newFeeBps, MAX_FEE_BPS);
        _globals.feeBps = newFeeBps;
        emit FeeBpsSet(newFeeBps);
    }

    /// @inheritdoc ILabelLedger
    function withdrawFees(uint16 token, address treasury)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
        returns (uint256 amount)
    {
        if (treasury == address(0)) revert LedgerZeroAddress();
        address tokenAddress = _tokenAddress(token);
        TokenState storage state = _tokenStates[token];
        amount = state.fees;
        EpochState memory epochs = _epochs;
        PendingFees memory pending = _pendingFees[token];
        if (
            epochs.proposedAt != 0 && pending.epoch == epochs.pendingEpoch
                && block.timestamp < uint256(epochs.proposedAt) + TIMELOCK
        ) {
            // reserved while the guardian may revoke the pending epoch; at most `fees`, which
            // includes them
            amount -= pending.amount;
        }
        // unchecked: amount <= fees
        unchecked {
            state.fees = uint128(state.fees - amount);
        }
        emit FeesWithdrawn(token, treasury, amount);
        IERC20(tokenAddress).safeTransfer(treasury, amount);
    }

    /// @inheritdoc ILabelLedger
    function pause() external onlyRole(PAUSER_ROLE) {
        if (_globals.paused) revert LedgerPaused();
        _globals.paused = true;
        emit Paused(msg.sender);
    }

    /// @inheritdoc ILabelLedger
    function unpause() external onlyRole(PAUSER_ROLE) {
        if (!_globals.paused) revert LedgerNotPaused();
        _globals.paused = false;
        emit Unpaused(msg.sender);
    }

    // ---- datasets ----------------------------------------------------------------------------

    /// @inheritdoc ILabelLedger
    function createAndFund(bytes32 salt, uint16 token, uint256 amount)
        external
        whenNotPaused
        nonReentrant
        returns (uint256 datasetId)
    {
        address tokenAddress = _tokenAddress(token);
        uint16 fee = _globals.feeBps;
        datasetId = datasetIdOf(msg.sender, salt);
        Dataset storage d = _datasets[datasetId];
        if (d.status != DatasetStatus.None) revert DatasetExists(datasetId);
        d.buyer = msg.sender;
        d.token = token;
        d.feeBps = fee;
        d.status = DatasetStatus.Open;
        emit DatasetCreated(datasetId, msg.sender, token, fee, salt);
        _deposit(d, datasetId, tokenAddress, amount);
    }

    /// @inheritdoc ILabelLedger
    function datasetIdOf(address buyer, bytes32 salt) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(buyer, salt)));
    }

    /// @inheritdoc ILabelLedger
    function fund(uint256 datasetId, uint256 amount) external whenNotPaused nonReentrant {
        (Dataset storage d, address tokenAddress) = _openDataset(datasetId);
        _deposit(d, datasetId, tokenAddress, amount);
    }

    /// @inheritdoc ILabelLedger
    function fundWithPermit(uint256 datasetId, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        whenNotPaused
        nonReentrant
    {
        (Dataset storage d, address tokenAddress) = _openDataset(datasetId);
        // A front-run permit has already set the allowance: go on, transferFrom decides.
        try IERC20Permit(tokenAddress).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _deposit(d, datasetId, tokenAddress, amount);
    }

    /// @inheritdoc ILabelLedger
    function requestClose(uint256 datasetId) external {
        Dataset storage d = _datasets[datasetId];
        if (d.status == DatasetStatus.None) revert DatasetUnknown(datasetId);
        if (d.buyer != msg.sender) revert DatasetNotBuyer(datasetId, msg.sender);
        if (d.status != DatasetStatus.Open) revert DatasetNotOpen(datasetId, d.status);
        d.status = DatasetStatus.Closing;
        d.closeRequestedAt = uint40(block.timestamp);
        emit DatasetCloseRequested(datasetId, block.timestamp + CLOSE_GRACE_PERIOD);
    }

    /// @inheritdoc ILabelLedger
    function finalizeClose(uint256 datasetId) external nonReentrant returns (uint256 refund) {
        Dataset storage d = _datasets[datasetId];
        DatasetStatus status = d.status;
        if (status == DatasetStatus.None) revert DatasetUnknown(datasetId);
        if (status == DatasetStatus.Open) revert DatasetNotClosing(datasetId, status);
        if (status == DatasetStatus.Closing) {
            uint256 dueAt = uint256(d.closeRequestedAt) + CLOSE_GRACE_PERIOD;
            if (block.timestamp < dueAt) revert DatasetCloseNotDue(datasetId, dueAt);
            d.status = DatasetStatus.Closed;
        }
        refund = d.available;
        d.available = 0;
        address buyer = d.buyer;
        emit DatasetClosed(datasetId, buyer, refund);
        if (refund != 0) IERC20(_tokens[d.token]).safeTransfer(buyer, refund);
    }

    function _openDataset(uint256 datasetId) private view returns (Dataset storage d, address tokenAddress) {
        d = _datasets[datasetId];
        if (d.status != DatasetStatus.Open) {
            if (d.status == DatasetStatus.None) revert DatasetUnknown(datasetId);
            revert DatasetNotOpen(datasetId, d.status);
        }
        tokenAddress = _tokens[d.token];
    }

    /// @dev Pulls `amount` and credits what arrived, which must be all of it: a fee-on-transfer
    /// token would leave the ledger owing more than it holds.
    function _deposit(Dataset storage d, uint256 datasetId, address tokenAddress, uint256 amount) private {
        IERC20 token = IERC20(tokenAddress);
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert DatasetShortDeposit(datasetId, amount, received);
        uint256 available = d.available + amount;
        d.available = available.toUint128();
        emit DatasetFunded(datasetId, msg.sender, amount, available);
    }

    // ---- epochs ------------------------------------------------------------------------------

    /// @inheritdoc ILabelLedger
    function proposeEpoch(
        uint64 epoch,
        bytes32 newPayoutRoot,
        bytes32 labelRoot,
        bytes32 contentHash,
        uint256[] calldata datasetIds,
        uint256[] calldata debits
    ) external onlyRole(ROOT_PROPOSER_ROLE) {
        if (newPayoutRoot == bytes32(0)) revert EpochEmptyRoot();
        EpochState memory state = _epochs;
        if (state.proposedAt != 0) {
            // Its guardian window is over, so accepting it here changes nothing anyone could
            // still object to, and saves the operator a transaction per epoch.
            if (block.timestamp < uint256(state.proposedAt) + TIMELOCK) revert EpochPending(state.pendingEpoch);
            _accept(state.pendingEpoch);
            state.acceptedEpoch = state.pendingEpoch;
        }
        if (epoch != state.acceptedEpoch + 1) revert EpochOutOfOrder(epoch, state.acceptedEpoch + 1);
        if (datasetIds.length != debits.length) revert EpochDebitsLengthMismatch(datasetIds.length, debits.length);

        for (uint256 i = 0; i < datasetIds.length; ++i) {
            _debit(epoch, datasetIds[i], debits[i]);
        }
        _epochs = EpochState({acceptedEpoch: state.acceptedEpoch, pendingEpoch: epoch, proposedAt: uint40(block.timestamp)});
        _pendingRoot = newPayoutRoot;
        _pendingDebitsHash = keccak256(abi.encode(datasetIds, debits));
        _commitments[epoch] = keccak256(abi.encode(newPayoutRoot, labelRoot, contentHash));
        emit EpochProposed(
            epoch, newPayoutRoot, labelRoot, contentHash, datasetIds, debits, block.timestamp + TIMELOCK
        );
    }

    /// @inheritdoc ILabelLedger
    function acceptEpoch() external {
        EpochState memory state = _epochs;
        if (state.proposedAt == 0) revert EpochNonePending();
        uint256 acceptableAt = uint256(state.proposedAt) + TIMELOCK;
        if (block.timestamp < acceptableAt) revert EpochTimelocked(state.pendingEpoch, acceptableAt);
        _epochs = EpochState({acceptedEpoch: state.pendingEpoch, pendingEpoch: state.pendingEpoch, proposedAt: 0});
        _accept(state.pendingEpoch);
    }

    /// @dev Makes the pending root the claimable one; the caller records the epoch as accepted.
    function _accept(uint64 epoch) private {
        bytes32 root = _pendingRoot;
        _payoutRoot = root;
        emit EpochAccepted(epoch, root);
    }

    /// @inheritdoc ILabelLedger
    function revokeEpoch(uint256[] calldata datasetIds, uint256[] calldata debits) external onlyRole(GUARDIAN_ROLE) {
        EpochState memory state = _epochs;
        if (state.proposedAt == 0) revert EpochNonePending();
        uint256 acceptableAt = uint256(state.proposedAt) + TIMELOCK;
        // After the timelock the epoch is final, accepted or not: no race with `acceptEpoch`.
        if (block.timestamp >= acceptableAt) revert EpochRevokeWindowClosed(state.pendingEpoch, acceptableAt);
        bytes32 given = keccak256(abi.encode(datasetIds, debits));
        if (given != _pendingDebitsHash) revert EpochDebitsMismatch(_pendingDebitsHash, given);

        for (uint256 i = 0; i < datasetIds.length; ++i) {
            _undoDebit(datasetIds[i], debits[i]);
        }
        _epochs = EpochState({acceptedEpoch: state.acceptedEpoch, pendingEpoch: state.pendingEpoch, proposedAt: 0});
        delete _commitments[state.pendingEpoch];
        emit EpochRevoked(state.pendingEpoch);
    }

    /// @dev Moves `debit` plus the dataset's fee out of `available`: the debit becomes owed to
    /// annotators, the fee accrues to the treasury. Closing datasets may still be debited (labels
    /// submitted before the close request); closed ones may not.
    function _debit(uint64 epoch, uint256 datasetId, uint256 debit) private {
        Dataset storage d = _datasets[datasetId];
        DatasetStatus status = d.status;
        if (status == DatasetStatus.None) revert DatasetUnknown(datasetId);
        if (status == DatasetStatus.Closed) revert DatasetIsClosed(datasetId);
        uint256 fee = debit * d.feeBps / BPS;
        uint256 needed = debit + fee;
        uint256 available = d.available;
        if (available < needed) revert DatasetInsufficientFunds(datasetId, available, needed);
        // cumulative over the dataset's life, which nothing else caps at 128 bits
        uint128 debited = (uint256(d.debited) + debit).toUint128();
        // unchecked: needed <= available was just checked
        unchecked {
            d.available = uint128(available - needed);
        }
        d.debited = debited;
        uint16 token = d.token;
        TokenState storage totals = _tokenStates[token];
        // checked: bounded by the token's total deposits, which nothing caps at 128 bits
        totals.owed += uint128(debit);
        if (fee != 0) {
            totals.fees += uint128(fee);
            PendingFees storage pending = _pendingFees[token];
            if (pending.epoch == epoch) {
                // unchecked: at most the token's fees, which fit 128 bits (checked just above)
                unchecked {
                    pending.amount += uint192(fee);
                }
            } else {
                _pendingFees[token] = PendingFees({epoch: epoch, amount: uint192(fee)});
            }
        }
    }

    /// @dev The exact inverse of `_debit`, for a revoked epoch.
    function _undoDebit(uint256 datasetId, uint256 debit) private {
        Dataset storage d = _datasets[datasetId];
        uint256 fee = debit * d.feeBps / BPS;
        TokenState storage totals = _tokenStates[d.token];
        // An accepted root that over-pays could already have spent what this epoch made owed.
        uint256 owed = totals.owed;
        if (owed < debit) revert LedgerOwedShortfall(d.token, owed, debit);
        // unchecked: owed >= debit was just checked, and the matching `_debit` (same list, its
        // hash matched) added debit to `debited`
        unchecked {
            totals.owed = uint128(owed - debit);
            d.debited -= uint128(debit);
        }
        if (fee != 0) {
            // checked, though neither can fail: `withdrawFees` leaves the pending epoch's fees in
            // place, and `_debit` added this fee to both (the same list, its hash matched)
            totals.fees -= uint128(fee);
            _pendingFees[d.token].amount -= uint192(fee);
        }
        d.available += uint128(debit + fee);
    }

    // ---- claims ------------------------------------------------------------------------------

    /// @inheritdoc ILabelLedger
    function claim(
        address account,
        uint16 token,
        uint256 cumulativePayment,
        uint256 cumulativeReward,
        bytes32[] calldata proof
    ) external whenNotPaused returns (uint256 payment, uint256 reward) {
        bytes32 leaf = PayoutLeafLib.hash(account, token, cumulativePayment, cumulativeReward);
        if (!MerkleProof.verifyCalldata(proof, _payoutRoot, leaf)) revert ClaimInvalidProof(account, token);
        return _pay(account, token, cumulativePayment, cumulativeReward);
    }

    /// @inheritdoc ILabelLedger
    function claimMany(PayoutLeaf[] calldata leaves, bytes32[] calldata proof, bool[] calldata proofFlags)
        external
        whenNotPaused
    {
        bytes32[] memory hashes = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            PayoutLeaf calldata l = leaves[i];
            hashes[i] = PayoutLeafLib.hash(l.account, l.token, l.cumulativePayment, l.cumulativeReward);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, _payoutRoot, hashes)) {
            revert ClaimInvalidMultiproof();
        }
        for (uint256 i = 0; i < leaves.length; ++i) {
            PayoutLeaf calldata l = leaves[i];
            _pay(l.account, l.token, l.cumulativePayment, l.cumulativeReward);
        }
    }

    /// @dev Raises `account`'s claimed counters for `token` to the leaf's cumulatives and pays the
    /// difference: payment by transfer, LABEL credited in place. Pays nothing for a leaf at or
    /// below what was claimed.
    function _pay(address account, uint16 token, uint256 cumulativePayment, uint256 cumulativeReward)
        private
        returns (uint256 payment, uint256 reward)
    {
        address tokenAddress = _tokenAddress(token);
        Account storage acc = _accounts[account];
        Account memory word = acc;
        if (word.primaryToken == 0) word.primaryToken = token;
        if (word.primaryToken == token) {
            (payment, reward) = (_delta(cumulativePayment, word.paymentClaimed), _delta(cumulativeReward, word.rewardClaimed));
            if (payment != 0) word.paymentClaimed = cumulativePayment.toUint112();
            if (reward != 0) word.rewardClaimed = cumulativeReward.toUint64();
        } else {
            OtherClaimed storage other = _otherClaimed[account][token];
            (payment, reward) = (_delta(cumulativePayment, other.payment), _delta(cumulativeReward, other.reward));
            if (payment != 0) other.payment = cumulativePayment.toUint192();
            if (reward != 0) other.reward = cumulativeReward.toUint64();
        }
        if (payment == 0 && reward == 0) return (0, 0);

        if (payment != 0) {
            TokenState storage state = _tokenStates[token];
            uint256 owed = state.owed;
            if (payment > owed) revert LedgerOwedShortfall(token, owed, payment);
            // unchecked: payment <= owed was just checked
            unchecked {
                state.owed = uint128(owed - payment);
            }
        }
        if (reward != 0) {
            // reward < 2^64: it is a difference of two values that fit 64 bits
            uint64 supply = _globals.labelSupply;
            _globals.labelSupply = (uint256(supply) + reward).toUint64();
            // unchecked: the balance is at most the supply, which was just checked to fit 64 bits
            unchecked {
                word.labelBalance += uint64(reward);
            }
        }
        _accounts[account] = word;
        if (reward != 0) emit Transfer(address(0), account, reward);
        emit Claimed(account, token, payment, reward);
        if (payment != 0) IERC20(tokenAddress).safeTransfer(account, payment);
    }

    function _delta(uint256 cumulative, uint256 alreadyClaimed) private pure returns (uint256) {
        // unchecked: subtracted only when cumulative > alreadyClaimed
        unchecked {
            return cumulative > alreadyClaimed ? cumulative - alreadyClaimed : 0;
        }
    }

    function _tokenAddress(uint16 token) private view returns (address tokenAddress) {
        tokenAddress = _tokens[token];
        if (tokenAddress == address(0)) revert LedgerUnknownToken(token);
    }

    // ---- views -------------------------------------------------------------------------------

    /// @inheritdoc ILabelLedger
    function paused() external view returns (bool) {
        return _globals.paused;
    }

    /// @inheritdoc ILabelLedger
    function feeBps() external view returns (uint16) {
        return _globals.feeBps;
    }

    /// @inheritdoc ILabelLedger
    function tokenCount() external view returns (uint16) {
        return _globals.tokenCount;
    }

    /// @inheritdoc ILabelLedger
    function tokenAt(uint16 index) external view returns (address) {
        return _tokens[index];
    }

    /// @inheritdoc ILabelLedger
    function tokenIndexOf(address token) external view returns (uint16) {
        return _tokenIndex[token];
    }

    /// @inheritdoc ILabelLedger
    function tokenState(uint16 token) external view returns (uint128 owed, uint128 fees) {
        TokenState storage state = _tokenStates[token];
        return (state.owed, state.fees);
    }

    /// @inheritdoc ILabelLedger
    function dataset(uint256 datasetId) external view returns (Dataset memory) {
        return _datasets[datasetId];
    }

    /// @inheritdoc ILabelLedger
    function payoutRoot() external view returns (bytes32) {
        return _payoutRoot;
    }

    /// @inheritdoc ILabelLedger
    function acceptedEpoch() external view returns (uint64) {
        return _epochs.acceptedEpoch;
    }

    /// @inheritdoc ILabelLedger
    function pendingEpoch() external view returns (uint64 epoch, bytes32 root, uint40 proposedAt) {
        EpochState memory state = _epochs;
        if (state.proposedAt == 0) return (0, bytes32(0), 0);
        return (state.pendingEpoch, _pendingRoot, state.proposedAt);
    }

    /// @inheritdoc ILabelLedger
    function epochCommitment(uint64 epoch) external view returns (bytes32) {
        return _commitments[epoch];
    }

    /// @inheritdoc ILabelLedger
    function claimed(address account, uint16 token) external view returns (uint256 payment, uint256 reward) {
        Account memory word = _accounts[account];
        if (word.primaryToken == token && token != 0) return (word.paymentClaimed, word.rewardClaimed);
        OtherClaimed memory other = _otherClaimed[account][token];
        return (other.payment, other.reward);
    }
}
