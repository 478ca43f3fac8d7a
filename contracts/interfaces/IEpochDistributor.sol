// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title Epoch roots of cumulative entitlements, and claims against them
/// @notice Each epoch the operator posts the root of a StandardMerkleTree (standard-v1) whose leaves
/// are (address account, address token, uint256 cumulative): everything `account` has ever earned
/// in `token`. Posting debits the datasets that paid for the epoch. A claim pays
/// `cumulative - claimed[account][token]`: the payment token out of the escrow, the LABEL reward
/// minted. Re-sending a claim or a post never pays twice.
interface IEpochDistributor {
    struct Entitlement {
        address token;
        uint256 cumulative;
        bytes32[] proof;
    }

    error DistributorNotOperator(address caller);
    error DistributorEpochOutOfOrder(uint64 expected, uint64 given);
    error DistributorEmptyRoot();
    error DistributorLengthMismatch(uint256 datasets, uint256 amounts);
    error DistributorInvalidProof(address account, address token, uint256 cumulative);
    error DistributorNoEpoch();

    event EpochPosted(uint64 indexed epoch, bytes32 root, uint256 datasetCount);
    event Claimed(address indexed account, address indexed token, uint256 amount, uint256 cumulative);

    /// @notice Publishes epoch `epoch` (must be `currentEpoch() + 1`) and debits each dataset.
    function postEpoch(uint64 epoch, bytes32 root, bytes32[] calldata datasetIds, uint256[] calldata debits)
        external;

    /// @notice Pays `account` what the latest root owes it beyond what it already claimed, for each
    /// entitlement. Anyone may call; the tokens always go to `account`.
    function claim(address account, Entitlement[] calldata entitlements) external;

    function escrow() external view returns (address);
    function labelToken() external view returns (address);
    function operator() external view returns (address);
    function currentEpoch() external view returns (uint64);
    function currentRoot() external view returns (bytes32);
    function epochRoot(uint64 epoch) external view returns (bytes32);
    function claimed(address account, address token) external view returns (uint256);
}
