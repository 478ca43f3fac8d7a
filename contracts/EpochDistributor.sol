// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IDatasetEscrow} from "./interfaces/IDatasetEscrow.sol";
import {IEpochDistributor} from "./interfaces/IEpochDistributor.sol";
import {LabelToken} from "./LabelToken.sol";

/// @title EpochDistributor
/// @notice Posts epoch roots, debits the datasets that paid for each epoch, and pays claims: the
/// payment token out of the escrow, the LABEL reward minted.
/// @dev The operator is the Ownable2Step owner, so handing the role over takes two steps. The escrow
/// and LABEL token are deployed first, pointing at this contract's predicted address; the
/// constructor refuses to come up if either points elsewhere.
contract EpochDistributor is IEpochDistributor, Ownable2Step, ReentrancyGuardTransient {
    /// @notice The escrow does not name this contract as its distributor, or LABEL does not name it
    /// as its minter (or either address holds no contract).
    error DistributorMiswired();

    /// @notice Renouncing would leave no operator, and no epoch could ever be posted again.
    error DistributorCannotRenounce();

    /// @inheritdoc IEpochDistributor
    address public immutable escrow;

    /// @inheritdoc IEpochDistributor
    address public immutable labelToken;

    /// @inheritdoc IEpochDistributor
    uint64 public currentEpoch;

    /// @inheritdoc IEpochDistributor
    bytes32 public currentRoot;

    /// @inheritdoc IEpochDistributor
    mapping(uint64 epoch => bytes32 root) public epochRoot;

    /// @inheritdoc IEpochDistributor
    mapping(address account => mapping(address token => uint256 cumulative)) public claimed;

    /// @dev Our own error rather than OpenZeppelin's OwnableUnauthorizedAccount, so the ABI stays ours.
    modifier onlyOperator() {
        if (msg.sender != owner()) revert DistributorNotOperator(msg.sender);
        _;
    }

    constructor(address escrow_, address labelToken_, address operator_) Ownable(operator_) {
        // a high-level call to an address without code would revert with no reason at all
        if (escrow_.code.length == 0 || labelToken_.code.length == 0) revert DistributorMiswired();
        if (IDatasetEscrow(escrow_).distributor() != address(this)) revert DistributorMiswired();
        if (LabelToken(labelToken_).minter() != address(this)) revert DistributorMiswired();
        escrow = escrow_;
        labelToken = labelToken_;
    }

    /// @inheritdoc IEpochDistributor
    function operator() external view returns (address) {
        return owner();
    }

    /// @notice Always reverts: the operator role can be handed over (two steps), never dropped.
    function renounceOwnership() public view override onlyOwner {
        revert DistributorCannotRenounce();
    }

    /// @inheritdoc IEpochDistributor
    function postEpoch(uint64 epoch, bytes32 root, bytes32[] calldata datasetIds, uint256[] calldata debits)
        external
        onlyOperator
        nonReentrant
    {
        uint64 expected = currentEpoch + 1;
        if (epoch != expected) revert DistributorEpochOutOfOrder(expected, epoch);
        if (root == bytes32(0)) revert DistributorEmptyRoot();
        if (datasetIds.length != debits.length) revert DistributorLengthMismatch(datasetIds.length, debits.length);

        epochRoot[epoch] = root;
        currentEpoch = epoch;
        currentRoot = root;

        emit EpochPosted(epoch, root, datasetIds.length);

        // any failed debit (unknown dataset, more than it holds) reverts the whole post
        IDatasetEscrow datasetEscrow = IDatasetEscrow(escrow);
        for (uint256 i = 0; i < datasetIds.length; ++i) {
            datasetEscrow.debit(datasetIds[i], epoch, debits[i]);
        }
    }

    /// @inheritdoc IEpochDistributor
    function claim(address account, Entitlement[] calldata entitlements) external nonReentrant {
        if (currentEpoch == 0) revert DistributorNoEpoch();
        bytes32 root = currentRoot;

        for (uint256 i = 0; i < entitlements.length; ++i) {
            Entitlement calldata entitlement = entitlements[i];
            address token = entitlement.token;
            uint256 cumulative = entitlement.cumulative;

            // OpenZeppelin StandardMerkleTree (standard-v1) leaf for ["address", "address", "uint256"]
            bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, token, cumulative))));
            if (!MerkleProof.verifyCalldata(entitlement.proof, root, leaf)) {
                revert DistributorInvalidProof(account, token, cumulative);
            }

            // Cumulative entitlements only grow, so nothing new (or a stale leaf) pays nothing.
            uint256 alreadyClaimed = claimed[account][token];
            if (cumulative <= alreadyClaimed) continue;
            uint256 amount;
            // cannot underflow: cumulative > alreadyClaimed was checked just above
            unchecked {
                amount = cumulative - alreadyClaimed;
            }
            claimed[account][token] = cumulative;

            emit Claimed(account, token, amount, cumulative);

            if (token == labelToken) {
                LabelToken(token).mint(account, amount);
            } else {
                IDatasetEscrow(escrow).payOut(token, account, amount);
            }
        }
    }
}
