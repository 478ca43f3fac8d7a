// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IDatasetEscrow} from "./interfaces/IDatasetEscrow.sol";

/// @title DatasetEscrow
/// @notice Holds every dataset's payment funds. Accounting identity, per token:
/// escrow balance == owed[token] + sum of available over the token's datasets.
/// @dev The distributor is fixed at deployment (its predicted CREATE address), so there is no owner
/// and no setter. Entry points that call a token are nonReentrant: dataset tokens are chosen by
/// buyers and are not trusted.
contract DatasetEscrow is IDatasetEscrow, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IDatasetEscrow
    address public immutable distributor;

    /// @inheritdoc IDatasetEscrow
    mapping(address token => uint256 amount) public owed;

    mapping(bytes32 datasetId => Dataset record) private _datasets;

    modifier onlyDistributor() {
        if (msg.sender != distributor) revert EscrowNotDistributor(msg.sender);
        _;
    }

    constructor(address distributor_) {
        distributor = distributor_;
    }

    /// @inheritdoc IDatasetEscrow
    function datasetIdOf(address buyer, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(buyer, salt));
    }

    /// @inheritdoc IDatasetEscrow
    function dataset(bytes32 datasetId) external view returns (Dataset memory) {
        return _datasets[datasetId];
    }

    /// @inheritdoc IDatasetEscrow
    function createDataset(bytes32 salt, address token) external returns (bytes32 datasetId) {
        datasetId = _createDataset(salt, token);
    }

    /// @inheritdoc IDatasetEscrow
    function fund(bytes32 datasetId, uint256 amount) external nonReentrant {
        _fund(datasetId, amount);
    }

    /// @inheritdoc IDatasetEscrow
    function createAndFund(bytes32 salt, address token, uint256 amount)
        external
        nonReentrant
        returns (bytes32 datasetId)
    {
        datasetId = _createDataset(salt, token);
        _fund(datasetId, amount);
    }

    /// @inheritdoc IDatasetEscrow
    function close(bytes32 datasetId) external nonReentrant {
        Dataset storage record = _existing(datasetId);
        if (msg.sender != record.buyer) revert EscrowNotBuyer(datasetId, msg.sender);
        if (record.closed) revert EscrowDatasetClosed(datasetId);

        uint256 refund = record.available;
        record.closed = true;
        record.available = 0;

        emit DatasetClosed(datasetId, record.buyer, refund);

        if (refund > 0) IERC20(record.token).safeTransfer(record.buyer, refund);
    }

    /// @inheritdoc IDatasetEscrow
    function debit(bytes32 datasetId, uint64 epoch, uint256 amount) external onlyDistributor {
        if (amount == 0) revert EscrowZeroAmount();
        Dataset storage record = _existing(datasetId);
        uint256 available = record.available;
        if (amount > available) revert EscrowInsufficientFunds(datasetId, available, amount);

        // cannot underflow: amount <= available was checked just above
        unchecked {
            available -= amount;
        }
        record.available = available;
        record.debited += amount;
        owed[record.token] += amount;

        emit DatasetDebited(datasetId, epoch, amount, available);
    }

    /// @inheritdoc IDatasetEscrow
    function payOut(address token, address account, uint256 amount) external onlyDistributor nonReentrant {
        uint256 tokenOwed = owed[token];
        if (amount > tokenOwed) revert EscrowInsufficientOwed(token, tokenOwed, amount);

        // cannot underflow: amount <= tokenOwed was checked just above
        unchecked {
            owed[token] = tokenOwed - amount;
        }

        emit PaidOut(token, account, amount);

        IERC20(token).safeTransfer(account, amount);
    }

    function _createDataset(bytes32 salt, address token) private returns (bytes32 datasetId) {
        if (token == address(0)) revert EscrowZeroToken();
        datasetId = datasetIdOf(msg.sender, salt);
        if (_datasets[datasetId].buyer != address(0)) revert EscrowDatasetExists(datasetId);

        _datasets[datasetId] = Dataset({buyer: msg.sender, token: token, closed: false, available: 0, debited: 0});

        emit DatasetCreated(datasetId, msg.sender, token, salt);
    }

    /// @dev The pull has to come before the effects: only the balance delta shows what the token
    /// really delivered, and anything short of `amount` (fee-on-transfer) is refused.
    function _fund(bytes32 datasetId, uint256 amount) private {
        if (amount == 0) revert EscrowZeroAmount();
        Dataset storage record = _existing(datasetId);
        if (record.closed) revert EscrowDatasetClosed(datasetId);

        IERC20 token = IERC20(record.token);
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - balanceBefore;
        if (received != amount) revert EscrowShortDeposit(datasetId, amount, received);

        uint256 available = record.available + amount;
        record.available = available;

        emit DatasetFunded(datasetId, msg.sender, amount, available);
    }

    /// @dev A dataset exists once created: its buyer is never the zero address.
    function _existing(bytes32 datasetId) private view returns (Dataset storage record) {
        record = _datasets[datasetId];
        if (record.buyer == address(0)) revert EscrowUnknownDataset(datasetId);
    }
}
