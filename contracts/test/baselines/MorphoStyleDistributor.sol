// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Cumulative-root distributor in the Morpho style, TEST ONLY
/// @notice Test-only baseline for the gas report (scripts/gas-report.js): never deployed anywhere but
/// the report's in-process chain. It reproduces the claim path of Morpho's
/// UniversalRewardsDistributor: one owner-set root of cumulative entitlements, one claim per
/// (account, token), `claimed[account][token]` in its own slot, payment from its own balance.
/// @dev Leaf: standard-v1 over (address account, address token, uint256 cumulative), so one claim
/// here and one entitlement there are compared like for like.
contract MorphoStyleDistributor {
    using SafeERC20 for IERC20;

    /// @notice Only the owner sets the root.
    address public immutable owner;

    /// @notice The root of the latest cumulative entitlements.
    bytes32 public root;

    /// @notice What each account has already been paid, per token.
    mapping(address account => mapping(address token => uint256 amount)) public claimed;

    error MorphoStyleNotOwner(address caller);
    error MorphoStyleRootNotSet();
    error MorphoStyleInvalidProof(address account, address token, uint256 claimable);
    error MorphoStyleNothingToClaim(address account, address token, uint256 claimable, uint256 claimed);

    event RootSet(bytes32 root);
    event Claimed(address indexed account, address indexed token, uint256 amount);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Replaces the root. Only the owner.
    function setRoot(bytes32 newRoot) external {
        if (msg.sender != owner) revert MorphoStyleNotOwner(msg.sender);
        root = newRoot;
        emit RootSet(newRoot);
    }

    /// @notice Pays `account` its `claimable` cumulative entitlement in `token` minus what it was
    /// already paid. Anyone may call; the tokens always go to `account`.
    function claim(address account, address token, uint256 claimable, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        bytes32 currentRoot = root;
        if (currentRoot == bytes32(0)) revert MorphoStyleRootNotSet();
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, token, claimable))));
        if (!MerkleProof.verifyCalldata(proof, currentRoot, leaf)) {
            revert MorphoStyleInvalidProof(account, token, claimable);
        }
        uint256 alreadyClaimed = claimed[account][token];
        if (claimable <= alreadyClaimed) revert MorphoStyleNothingToClaim(account, token, claimable, alreadyClaimed);

        // cannot underflow: claimable > alreadyClaimed was checked just above
        unchecked {
            amount = claimable - alreadyClaimed;
        }
        claimed[account][token] = claimable;

        emit Claimed(account, token, amount);

        IERC20(token).safeTransfer(account, amount);
    }
}
